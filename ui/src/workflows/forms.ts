// Between the forms and the settings they edit. The forms hold text (what is being typed);
// the settings hold what the API wants: numbers as numbers, objects as objects, optional
// settings left out when empty.
import type { StartInput } from './types';

/** A row of a name → value editor. `literal`: the value was not a string (a number, an
 * object), shown as JSON and read back as JSON so it keeps its type. */
export interface KVRow {
  key: string;
  value: string;
  literal?: boolean;
}

export function rowsFromObject(obj: unknown): KVRow[] {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return [];
  return Object.entries(obj as Record<string, unknown>).map(([key, v]) =>
    typeof v === 'string' ? { key, value: v } : { key, value: JSON.stringify(v) ?? '', literal: true },
  );
}

/** Rows without a name are left out; of two rows with one name, the last wins. */
export function objectFromRows(rows: KVRow[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const r of rows) {
    const key = r.key.trim();
    if (!key) continue;
    out[key] = r.literal ? parseJsonOr(r.value, r.value) : r.value;
  }
  return out;
}

export function duplicateKeys(rows: KVRow[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const r of rows) {
    const k = r.key.trim();
    if (!k) continue;
    if (seen.has(k)) dup.add(k);
    seen.add(k);
  }
  return [...dup];
}

function parseJsonOr<T>(text: string, fallback: T): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}

/** A number field: empty means "not set". Text that is no number is kept as text, so
 * validation can say what is wrong with it rather than the form dropping it. */
export function parseNumber(text: string): number | string | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
}

export function formatValue(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** A start input's default, from its text, by the input's type. */
export function parseDefault(text: string, type: StartInput['type']): unknown {
  if (text === '') return undefined;
  switch (type) {
    case 'number':
      return parseNumber(text);
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : text;
    case 'object':
      return parseJsonOr(text, text);
    default:
      return text;
  }
}

/** The settings with `patch` applied; a key set to undefined is removed. */
export function patchConfig(config: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out = { ...config };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

const INPUT_TYPES: StartInput['type'][] = ['string', 'number', 'boolean', 'object'];

/** A start node's declared inputs, whatever the settings hold. */
export function startInputs(config: Record<string, unknown> | undefined): StartInput[] {
  const list = config?.inputs;
  if (!Array.isArray(list)) return [];
  return list
    .filter((x): x is Record<string, unknown> => !!x && typeof x === 'object')
    .map((x) => {
      const input: StartInput = {
        name: typeof x.name === 'string' ? x.name : '',
        type: INPUT_TYPES.includes(x.type as StartInput['type']) ? (x.type as StartInput['type']) : 'string',
        required: x.required === true,
      };
      if (x.default !== undefined) input.default = x.default;
      return input;
    });
}

/** One start input as settings: `required` and `default` only when they say something. */
export function inputToConfig(input: StartInput): Record<string, unknown> {
  const out: Record<string, unknown> = { name: input.name, type: input.type, required: !!input.required };
  if (input.default !== undefined) out.default = input.default;
  return out;
}

export type RunFormValues = Record<string, string | boolean>;

/** The run form's first values: each input's default. */
export function initialRunValues(inputs: StartInput[]): RunFormValues {
  const out: RunFormValues = {};
  for (const i of inputs) {
    if (i.type === 'boolean') out[i.name] = i.default === true;
    else out[i.name] = formatValue(i.default);
  }
  return out;
}

/** The run form as the run's `inputs`, typed; an empty optional field is left to the server
 * (which applies the default). */
export function runInputs(inputs: StartInput[], values: RunFormValues): { inputs: Record<string, unknown>; errors: Record<string, string> } {
  const out: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const i of inputs) {
    if (!i.name) continue;
    const v = values[i.name];
    if (i.type === 'boolean') {
      out[i.name] = v === true;
      continue;
    }
    const text = typeof v === 'string' ? v : '';
    // A string of spaces is a value; a number of spaces is not.
    if (i.type === 'string' ? text === '' : text.trim() === '') {
      if (i.required) errors[i.name] = 'Required';
      continue;
    }
    if (i.type === 'number') {
      const n = Number(text.trim());
      if (Number.isFinite(n)) out[i.name] = n;
      else errors[i.name] = 'Not a number';
    } else if (i.type === 'object') {
      try {
        out[i.name] = JSON.parse(text);
      } catch {
        errors[i.name] = 'Not valid JSON';
      }
    } else {
      out[i.name] = text;
    }
  }
  return { inputs: out, errors };
}

/** Whether a literal header value looks like a credential: a workflow's definition travels in
 * plain text (the database, sync, exports), so such a value belongs in a keychain secret
 * (`{{secret:NAME}}`). Values that already name a secret or a reference are fine. */
export function looksLikeKey(value: string): boolean {
  const v = value.trim();
  if (!v || v.includes('{{secret:') || v.includes('{{#')) return false;
  if (/^(bearer|basic|token)\s+\S{12,}$/i.test(v)) return true;
  if (/^(sk-|sk_live_|rk_live_|ghp_|gho_|github_pat_|glpat-|xox[abpr]-|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{20,})/.test(v)) return true;
  // A long run of letters and digits with no spaces: an API key or token.
  return /^[A-Za-z0-9_\-+/=.]{32,}$/.test(v) && /[0-9]/.test(v) && /[A-Za-z]/.test(v);
}

/** The names of the headers whose values look like credentials (see `looksLikeKey`). */
export function keyLikeHeaders(headers: unknown): string[] {
  if (!headers || typeof headers !== 'object' || Array.isArray(headers)) return [];
  return Object.entries(headers as Record<string, unknown>)
    .filter(([, v]) => typeof v === 'string' && looksLikeKey(v))
    .map(([k]) => k);
}
