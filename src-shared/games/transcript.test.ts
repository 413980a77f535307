import { describe, expect, it } from 'vitest';
import { taboo } from './taboo.js';
import { playEpisode, scripted, testResources } from './testing.js';
import { renderTranscript } from './transcript.js';

describe('renderTranscript', () => {
  it('shows every message on its side and escapes what the players wrote', () => {
    const { interactions } = playEpisode(
      taboo,
      { name: 'e', game_instances: [] },
      { game_id: 0, target_word: 'house', related_word: ['home'] },
      testResources([]),
      scripted([['CLUE: a <b>roof</b> & walls'], ['GUESS: house']]),
    );
    const html = renderTranscript(interactions);
    expect(html).toContain('<title>taboo · e · instance 0</title>');
    expect(html).toContain('CLUE: a &lt;b&gt;roof&lt;/b&gt; &amp; walls');
    expect(html).not.toContain('<b>roof</b>');
    expect(html).toContain('class="message player left"');
    expect(html).toContain('class="message player right"');
    expect(html).toContain('<span class="type">correct guess</span> house');
    expect(html).toContain('Outcome: <strong>Success</strong>');
  });

  it("renders clembench's older records, where players are named by strings", () => {
    const html = renderTranscript({
      meta: { game_name: 'taboo', experiment_name: 'x', game_id: 1, results_folder: 'm', clemplay_version: '' },
      player_models: {},
      players: { GM: 'Game master for taboo', 'Player 1': 'WordDescriber: gpt' } as never,
      turns: [
        [
          { from: 'GM', to: 'Player 1', timestamp: '', action: { type: 'send message', content: 'hi' } },
          { bad: true } as never,
        ],
      ],
    });
    expect(html).toContain('Player 1 (WordDescriber: gpt)');
  });
});
