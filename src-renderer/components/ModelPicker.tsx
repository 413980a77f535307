import { useEffect, useId, useMemo, useRef, useState } from 'react';
import { useAppStore } from '../store';

/** One model the picker offers: a registry name with its backend and where it comes from. */
interface Choice {
  name: string;
  backend: string;
  source: string;
}

/**
 * A model field that takes a name or a JSON spec, with a searchable list of the registry's names (backend and
 * source beside each). Arrow keys move, Enter picks (or takes what was typed), Escape closes; `focusKey` lets the
 * page open it from a shortcut (Ctrl+K).
 */
export function ModelPicker({
  value,
  onChange,
  onPick,
  testId,
  focusKey,
  disabled = false,
}: {
  value: string;
  onChange(value: string): void;
  /**
   * A choice was made: a registry name from the list, or what was typed when Enter was pressed (after `onChange`
   * with it). Optional: a form that only keeps the value needs `onChange` alone.
   */
  onPick?(query: string): void;
  testId: string;
  /** Changes when the page wants the picker focused and open. */
  focusKey?: number;
  disabled?: boolean;
}) {
  const rows = useAppStore((state) => state.registry.rows);
  const loadRegistry = useAppStore((state) => state.loadRegistry);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  const listId = useId();

  useEffect(() => {
    if (focusKey === undefined || focusKey === 0) return;
    input.current?.focus();
    input.current?.select();
    setOpen(true);
  }, [focusKey]);

  useEffect(() => {
    if (open && rows.length === 0) void loadRegistry();
  }, [open, rows.length, loadRegistry]);

  const choices = useMemo(() => {
    const seen = new Set<string>();
    const all: Choice[] = [];
    for (const row of rows) {
      const name = row.entry.model_name;
      // Variables (`?m`) are patterns, not models one can pick; the first entry of a name is the one lookup takes.
      if (typeof name !== 'string' || name.startsWith('?') || seen.has(name)) continue;
      seen.add(name);
      all.push({
        name,
        backend: typeof row.entry.backend === 'string' ? row.entry.backend : '?',
        source: row.role === 'official' ? 'official' : row.role === 'user' ? 'your registry' : row.file,
      });
    }
    const needle = value.trim().toLowerCase();
    // A JSON spec is typed, not searched for.
    if (needle.startsWith('{')) return [];
    return needle === '' ? all : all.filter((choice) => choice.name.toLowerCase().includes(needle));
  }, [rows, value]);

  const pick = (query: string): void => {
    setOpen(false);
    onChange(query);
    onPick?.(query);
  };

  return (
    <div className="picker">
      <input
        ref={input}
        className="grow"
        data-testid={testId}
        role="combobox"
        aria-expanded={open}
        aria-controls={listId}
        aria-autocomplete="list"
        placeholder="a model name or a JSON spec (Ctrl+K)"
        value={value}
        disabled={disabled}
        onFocus={() => setOpen(true)}
        onBlur={() => setOpen(false)}
        onChange={(event) => {
          onChange(event.target.value);
          setActive(0);
          setOpen(true);
        }}
        onKeyDown={(event) => {
          if (event.key === 'ArrowDown') {
            event.preventDefault();
            setOpen(true);
            setActive((index) => Math.min(index + 1, Math.max(0, choices.length - 1)));
          } else if (event.key === 'ArrowUp') {
            event.preventDefault();
            setActive((index) => Math.max(index - 1, 0));
          } else if (event.key === 'Enter') {
            event.preventDefault();
            const choice = open ? choices[active] : undefined;
            pick(choice?.name ?? value);
          } else if (event.key === 'Escape' && open) {
            event.stopPropagation();
            setOpen(false);
          }
        }}
      />
      {open && choices.length > 0 && (
        <ul className="picker-list" id={listId} role="listbox" data-testid={`${testId}-options`}>
          {choices.slice(0, 50).map((choice, index) => (
            <li
              key={choice.name}
              role="option"
              aria-selected={index === active}
              className={index === active ? 'picker-option active' : 'picker-option'}
              data-testid="model-option"
              // Before the input's blur closes the list.
              onMouseDown={(event) => {
                event.preventDefault();
                pick(choice.name);
              }}
            >
              <span>{choice.name}</span>
              <span className="muted">
                {choice.backend} · {choice.source}
              </span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
