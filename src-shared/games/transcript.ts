import { gameMasterName, type InteractionEvent, type Interactions } from './episode.js';
import { isJsonObject } from '../json.js';
import { escapeHtml } from './html.js';

function contentText(event: InteractionEvent): string {
  const content = event.action.content;
  return typeof content === 'string' ? content : JSON.stringify(content);
}

function playerLabel(interactions: Interactions, name: string): string {
  // clembench's older records name a player with a string ("Guesser: model"), newer ones with an object.
  const player: unknown = interactions.players?.[name];
  if (typeof player === 'string') return `${name} (${player})`;
  if (!isJsonObject(player)) return name;
  const parts = [player.game_role, player.model_name].filter((part) => typeof part === 'string');
  return parts.length === 0 ? name : `${name} (${parts.join(', ')})`;
}

function isEvent(value: unknown): value is InteractionEvent {
  return (
    isJsonObject(value) &&
    typeof value.from === 'string' &&
    typeof value.to === 'string' &&
    isJsonObject(value.action) &&
    typeof value.action.type === 'string'
  );
}

/** Which side of the page a player's messages sit on: Player 1 left, the others right, the game master between. */
function side(name: string): 'left' | 'right' {
  return name === 'Player 1' ? 'left' : 'right';
}

function renderEvent(interactions: Interactions, event: InteractionEvent): string {
  if (event.from === gameMasterName && event.to === gameMasterName) {
    return `<div class="note"><span class="type">${escapeHtml(event.action.type)}</span> ${escapeHtml(contentText(event))}</div>`;
  }
  const fromMaster = event.from === gameMasterName;
  const player = fromMaster ? event.to : event.from;
  const direction = fromMaster
    ? `GM → ${playerLabel(interactions, player)}`
    : `${playerLabel(interactions, player)} → GM`;
  const kind = fromMaster ? 'master' : 'player';
  return `<div class="message ${kind} ${side(player)}"><div class="who">${escapeHtml(direction)}</div><div class="text">${escapeHtml(contentText(event))}</div></div>`;
}

/**
 * A self-contained HTML page of one episode (transcript.html): the players, then each round's messages — the game
 * master's to a player and the player's answers on that player's side, the master's own notes between them.
 */
export function renderTranscript(interactions: Interactions): string {
  const meta: Partial<Interactions['meta']> = interactions.meta ?? {};
  const title = `${meta.game_name ?? 'game'} · ${meta.experiment_name ?? 'experiment'} · instance ${meta.game_id ?? '?'}`;
  const players = Object.keys(interactions.players ?? {})
    .filter((name) => name !== gameMasterName)
    .map((name) => `<li>${escapeHtml(playerLabel(interactions, name))}</li>`)
    .join('');
  const outcome = ['Success', 'Lose', 'Aborted'].find((key) => interactions[key] === 1);
  const rounds = interactions.turns
    .map(
      (round, index) =>
        `<section><h2>Round ${index + 1}</h2>\n${(Array.isArray(round) ? round : [])
          .filter(isEvent)
          .map((event) => renderEvent(interactions, event))
          .join('\n')}\n</section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }
h1 { font-size: 1.3rem; } h2 { font-size: 1rem; color: #666; border-top: 1px solid #ddd; padding-top: 0.5rem; }
.message { max-width: 70%; margin: 0.5rem 0; padding: 0.5rem 0.75rem; border-radius: 0.5rem; }
.message.left { margin-right: auto; } .message.right { margin-left: auto; }
.message.master { background: #eef2f7; border: 1px dashed #9aa8b8; }
.message.player { background: #e9f6ea; border: 1px solid #8fc499; }
.who { font-size: 0.75rem; color: #555; margin-bottom: 0.25rem; }
.text { white-space: pre-wrap; }
.note { text-align: center; font-size: 0.8rem; color: #666; font-style: italic; margin: 0.25rem 0; white-space: pre-wrap; }
.note .type { font-weight: bold; font-style: normal; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p>Players:</p><ul>${players}</ul>
<p>Outcome: <strong>${escapeHtml(outcome ?? 'not ended')}</strong> · models: ${escapeHtml(meta.results_folder ?? '')}</p>
${rounds}
</body>
</html>
`;
}
