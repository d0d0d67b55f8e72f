// Small form fields for node settings. Fields whose text is not their value (numbers, JSON,
// name → value rows) keep the text being typed and send the value up; they take a new value
// from above only when it differs from what they sent (another node, a reload).
import { useState } from 'react';
import { duplicateKeys, formatValue, objectFromRows, rowsFromObject, type KVRow } from './forms';

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Text the field holds, following `value` when it changes from outside. */
function useDraft<T>(value: T, format: (v: T) => string) {
  const [text, setText] = useState(() => format(value));
  const [last, setLast] = useState(value);
  if (!same(last, value)) {
    setLast(value);
    setText(format(value));
  }
  return { text, setText, sent: setLast };
}

export function TextField({
  label,
  value,
  onChange,
  placeholder,
  rows,
  mono,
  hint,
}: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  placeholder?: string;
  /** A textarea of that many rows. */
  rows?: number;
  mono?: boolean;
  hint?: string;
}) {
  const cls = mono ? 'mono' : undefined;
  return (
    <label className="field">
      <span>{label}</span>
      {rows ? (
        <textarea className={cls} rows={rows} value={value} placeholder={placeholder} spellCheck={!mono} onChange={(e) => onChange(e.target.value)} />
      ) : (
        <input type="text" className={cls} value={value} placeholder={placeholder} spellCheck={false} onChange={(e) => onChange(e.target.value)} />
      )}
      {hint && <small className="muted">{hint}</small>}
    </label>
  );
}

/** Text parsed into a value on every change (a number, a JSON default). */
export function ParsedField({
  label,
  value,
  parse,
  onChange,
  placeholder,
  inputMode,
  hideLabel,
}: {
  label: string;
  value: unknown;
  parse: (text: string) => unknown;
  onChange: (v: unknown) => void;
  placeholder?: string;
  inputMode?: 'numeric' | 'decimal' | 'text';
  hideLabel?: boolean;
}) {
  const { text, setText, sent } = useDraft(value, formatValue);
  const input = (
    <input
      type="text"
      inputMode={inputMode}
      aria-label={hideLabel ? label : undefined}
      value={text}
      placeholder={placeholder}
      spellCheck={false}
      onChange={(e) => {
        const v = parse(e.target.value);
        setText(e.target.value);
        sent(v);
        onChange(v);
      }}
    />
  );
  if (hideLabel) return input;
  return (
    <label className="field">
      <span>{label}</span>
      {input}
    </label>
  );
}

export function SelectField({ label, value, options, onChange }: { label: string; value: string; options: readonly (string | [string, string])[]; onChange: (v: string) => void }) {
  return (
    <label className="field">
      <span>{label}</span>
      <select value={value} onChange={(e) => onChange(e.target.value)}>
        {options.map((o) => {
          const [v, text] = typeof o === 'string' ? [o, o] : o;
          return (
            <option key={v} value={v}>
              {text}
            </option>
          );
        })}
      </select>
    </label>
  );
}

/** Name → value rows for an object setting (outputs, headers, code inputs). */
export function KeyValueRows({
  legend,
  noun,
  value,
  onChange,
  valuePlaceholder,
}: {
  legend: string;
  /** "output", "header": names the rows' fields for screen readers and tests. */
  noun: string;
  value: unknown;
  onChange: (v: Record<string, unknown>) => void;
  valuePlaceholder?: string;
}) {
  const obj = value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  const [rows, setRows] = useState<KVRow[]>(() => rowsFromObject(obj));
  const [last, setLast] = useState<Record<string, unknown>>(obj);
  if (!same(last, obj)) {
    setLast(obj);
    setRows(rowsFromObject(obj));
  }
  const update = (next: KVRow[]) => {
    setRows(next);
    const o = objectFromRows(next);
    setLast(o);
    onChange(o);
  };
  const dup = duplicateKeys(rows);
  return (
    <fieldset className="kv">
      <legend>{legend}</legend>
      {rows.length === 0 && <p className="muted small">None yet.</p>}
      {rows.map((r, i) => (
        <div className="kv-row" key={i}>
          <input type="text" aria-label={`Name of ${noun} ${i + 1}`} placeholder="name" value={r.key} spellCheck={false} onChange={(e) => update(rows.map((x, j) => (j === i ? { ...x, key: e.target.value } : x)))} />
          <input type="text" aria-label={`Value of ${noun} ${i + 1}`} placeholder={valuePlaceholder ?? 'value'} value={r.value} spellCheck={false} onChange={(e) => update(rows.map((x, j) => (j === i ? { ...x, value: e.target.value } : x)))} />
          <button type="button" className="icon-btn danger" aria-label={`Remove ${noun} ${i + 1}`} onClick={() => update(rows.filter((_, j) => j !== i))}>
            ×
          </button>
        </div>
      ))}
      {dup.length > 0 && <p className="warn-text small">Named twice: {dup.join(', ')} (the last row wins).</p>}
      <button type="button" className="btn small" onClick={() => setRows([...rows, { key: '', value: '' }])}>
        Add {noun}
      </button>
    </fieldset>
  );
}

/** A list setting edited row by row (start inputs, rules, variables). */
export function ListRows<T>({
  legend,
  noun,
  items,
  onChange,
  blank,
  render,
}: {
  legend: string;
  noun: string;
  items: T[];
  onChange: (items: T[]) => void;
  blank: () => T;
  render: (item: T, set: (item: T) => void, index: number) => JSX.Element;
}) {
  return (
    <fieldset className="list-rows">
      <legend>{legend}</legend>
      {items.length === 0 && <p className="muted small">None yet.</p>}
      {items.map((item, i) => (
        <div className="list-row" key={i}>
          <div className="list-row-fields">{render(item, (next) => onChange(items.map((x, j) => (j === i ? next : x))), i)}</div>
          <button type="button" className="icon-btn danger" aria-label={`Remove ${noun} ${i + 1}`} onClick={() => onChange(items.filter((_, j) => j !== i))}>
            ×
          </button>
        </div>
      ))}
      <button type="button" className="btn small" onClick={() => onChange([...items, blank()])}>
        Add {noun}
      </button>
    </fieldset>
  );
}
