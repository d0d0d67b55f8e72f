import { Icon } from '../components/Icon';

/** `< 2/3 >` for a message with siblings; `index` is 0-based. */
export function BranchSwitcher({
  index,
  count,
  onSwitch,
  disabled,
}: {
  index: number;
  count: number;
  onSwitch: (direction: -1 | 1) => void;
  disabled?: boolean;
}) {
  if (count <= 1) return null;
  return (
    <div className="branch-switcher" role="group" aria-label="Branches">
      <button className="icon-btn" aria-label="Previous branch" disabled={disabled || index <= 0} onClick={() => onSwitch(-1)}>
        <Icon name="chevronLeft" size={14} />
      </button>
      <span className="branch-pos" aria-live="polite" data-testid="branch-position">
        {index + 1}/{count}
      </span>
      <button className="icon-btn" aria-label="Next branch" disabled={disabled || index >= count - 1} onClick={() => onSwitch(1)}>
        <Icon name="chevronRight" size={14} />
      </button>
    </div>
  );
}
