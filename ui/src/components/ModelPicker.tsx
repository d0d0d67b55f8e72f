import type { ModelObject } from '../api/types';

/** Local models (owned_by "hearth") work offline; remote ones are `provider/model`. */
export function ModelPicker({
  models,
  value,
  defaultName,
  onChange,
  disabled,
  label = 'Model',
  id,
}: {
  models: ModelObject[];
  value: string;
  defaultName: string;
  onChange: (model: string) => void;
  disabled?: boolean;
  label?: string;
  id?: string;
}) {
  const local = models.filter((m) => m.owned_by === 'hearth');
  const remote = new Map<string, ModelObject[]>();
  for (const m of models) {
    if (m.owned_by === 'hearth') continue;
    const list = remote.get(m.owned_by) ?? [];
    list.push(m);
    remote.set(m.owned_by, list);
  }
  const known = value === '' || models.some((m) => m.id === value);
  const localIds = new Set(local.map((m) => m.id));
  const defaultIsLocal = localIds.has(defaultName);
  return (
    <select id={id} className="model-picker" aria-label={label} value={value} disabled={disabled} onChange={(e) => onChange(e.target.value)}>
      <option value="">
        Default{defaultName ? ` (${defaultName}${defaultIsLocal ? ' · offline' : ''})` : ''}
      </option>
      {local.length > 0 && (
        <optgroup label="On this device — works offline">
          {local.map((m) => (
            <option key={m.id} value={m.id}>
              {m.id} · offline
            </option>
          ))}
        </optgroup>
      )}
      {[...remote.entries()].map(([owner, list]) => (
        <optgroup key={owner} label={`${owner} — online`}>
          {list.map((m) => (
            <option key={m.id} value={m.id}>
              {m.id}
            </option>
          ))}
        </optgroup>
      ))}
      {!known && <option value={value}>{value} (not available)</option>}
    </select>
  );
}
