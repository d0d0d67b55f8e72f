//! [`text_enum!`]: the one way Hearth declares an enum that is a word on the wire, in SQL and
//! on the command line (a role, a status, an error code). Each variant has exactly one
//! spelling; serde, `Display`, `FromStr` and `as_str` all use it, so they cannot disagree.
//!
//! Exported for the other crates (hearth-core's `ErrorCode`, hearth-llm's `FinishReason`, the
//! store's table names). The OpenAPI schema of the ones the API shows is in `openapi.rs`,
//! built from `ALL` (a macro used in other crates cannot see this crate's features).

/// Declares a string-backed enum:
///
/// ```
/// hearth_types::text_enum! {
///     /// How a thing ended.
///     pub enum Outcome: "outcome" {
///         Ok = "ok",
///         /// Stopped early.
///         Cancelled = "cancelled",
///     }
/// }
/// assert_eq!(Outcome::Cancelled.to_string(), "cancelled");
/// assert_eq!("ok".parse::<Outcome>().unwrap(), Outcome::Ok);
/// assert_eq!("nope".parse::<Outcome>().unwrap_err().field, "outcome");
/// assert_eq!(serde_json::to_string(&Outcome::Ok).unwrap(), "\"ok\"");
/// ```
///
/// The string after the name is the field a parse error names. The enum gets `ALL` (every
/// variant, in order), `as_str`, `Display`, `FromStr` and `TryFrom<String>` (both failing with
/// a [`ValidationError`](crate::ValidationError) that lists the spellings), and serde as its
/// spelling. The calling crate needs `serde` among its dependencies.
#[macro_export]
macro_rules! text_enum {
    (
        $(#[$doc:meta])*
        $vis:vis enum $name:ident : $field:literal {
            $( $(#[$vdoc:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        $vis enum $name {
            $( $(#[$vdoc])* #[serde(rename = $text)] $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            #[allow(dead_code, reason = "not every enum lists its variants")]
            $vis const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The variant's one spelling.
            $vis fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::ValidationError;
            fn from_str(s: &str) -> ::std::result::Result<Self, $crate::ValidationError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::ValidationError::new(
                        $field,
                        format!("{s:?} is not one of: {}", [$($text),+].join(", ")),
                    )),
                }
            }
        }

        impl ::std::convert::TryFrom<String> for $name {
            type Error = $crate::ValidationError;
            fn try_from(s: String) -> ::std::result::Result<Self, $crate::ValidationError> {
                s.parse()
            }
        }
    };
}
