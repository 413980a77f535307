import { useState } from 'react';
import type { GenerationOptions } from '../../src-shared/chat';

/** The parameters of a chat as the form holds them: text, so a field can be empty (the model's default). */
export interface ParameterDraft {
  system: string;
  temperature: string;
  max_tokens: string;
  top_p: string;
  seed: string;
}

/** The form's text from saved parameters. */
export function draftOf(system: string | undefined, options: GenerationOptions | undefined): ParameterDraft {
  const text = (value: number | undefined): string => (value === undefined ? '' : String(value));
  return {
    system: system ?? '',
    temperature: text(options?.temperature),
    max_tokens: text(options?.max_tokens),
    top_p: text(options?.top_p),
    seed: text(options?.seed),
  };
}

/**
 * Generation options from the form, or the first problem: empty fields are left out (the model's default);
 * temperature 0..2, top_p 0..1, max tokens a positive whole number, seed a whole number.
 */
export function optionsOf(draft: ParameterDraft): { options: GenerationOptions } | { problem: string } {
  const options: GenerationOptions = {};
  const read = (
    name: string,
    text: string,
    check: (value: number) => boolean,
    rule: string,
  ): number | string | undefined => {
    if (text.trim() === '') return undefined;
    const value = Number(text);
    return Number.isFinite(value) && check(value) ? value : `${name} must be ${rule}`;
  };
  const temperature = read('Temperature', draft.temperature, (value) => value >= 0 && value <= 2, 'from 0 to 2');
  const maxTokens = read(
    'Max tokens',
    draft.max_tokens,
    (value) => Number.isInteger(value) && value > 0,
    'a whole number above 0',
  );
  const topP = read('Top p', draft.top_p, (value) => value >= 0 && value <= 1, 'from 0 to 1');
  const seed = read('Seed', draft.seed, Number.isInteger, 'a whole number');
  for (const value of [temperature, maxTokens, topP, seed]) if (typeof value === 'string') return { problem: value };
  if (typeof temperature === 'number') options.temperature = temperature;
  if (typeof maxTokens === 'number') options.max_tokens = maxTokens;
  if (typeof topP === 'number') options.top_p = topP;
  if (typeof seed === 'number') options.seed = seed;
  return { options };
}

/**
 * The parameters panel: system prompt, temperature, max tokens, top p and seed. For a new chat they are used when it
 * starts; for a saved chat, Save stores them with it (the next reply uses them).
 */
export function ChatParameters({
  draft,
  onDraft,
  onSave,
}: {
  draft: ParameterDraft;
  onDraft(draft: ParameterDraft): void;
  /** Present for a saved chat: returns a problem to show, or null when the parameters were saved. */
  onSave?: (system: string, options: GenerationOptions) => Promise<string | null>;
}) {
  const [message, setMessage] = useState<string | null>(null);
  const field = (name: Exclude<keyof ParameterDraft, 'system'>, label: string, placeholder: string) => (
    <label className="stack parameter">
      <span className="muted">{label}</span>
      <input
        inputMode="decimal"
        data-testid={`chat-${name.replace('_', '-')}`}
        placeholder={placeholder}
        value={draft[name]}
        onChange={(event) => onDraft({ ...draft, [name]: event.target.value })}
      />
    </label>
  );
  return (
    <form
      className="chat-parameters stack"
      data-testid="chat-parameters"
      onSubmit={(event) => {
        event.preventDefault();
        const parsed = optionsOf(draft);
        if ('problem' in parsed) return setMessage(parsed.problem);
        if (onSave !== undefined)
          void onSave(draft.system, parsed.options).then((problem) => setMessage(problem ?? 'Saved with this chat.'));
      }}
    >
      <label className="stack">
        <span className="muted">System prompt</span>
        <textarea
          data-testid="chat-system"
          rows={3}
          placeholder="optional"
          value={draft.system}
          onChange={(event) => onDraft({ ...draft, system: event.target.value })}
        />
      </label>
      <div className="row parameters-row">
        {field('temperature', 'Temperature', 'default')}
        {field('max_tokens', 'Max tokens', 'default')}
        {field('top_p', 'Top p', 'default')}
        {field('seed', 'Seed', 'none')}
      </div>
      <div className="row">
        {onSave === undefined ? (
          <span className="muted">Used when the chat starts, and saved with it.</span>
        ) : (
          <button type="submit" data-testid="chat-parameters-save">
            Save parameters
          </button>
        )}
        {message !== null && (
          <span className="muted" role="status">
            {message}
          </span>
        )}
      </div>
    </form>
  );
}
