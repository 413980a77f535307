import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RequestLog } from './request-log.js';

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('RequestLog', () => {
  it('tells listeners of status changes at once and of growing token counts at most every interval', () => {
    const log = new RequestLog({ progressIntervalMs: 250 });
    let told = 0;
    log.onChange(() => (told += 1));
    const record = log.add({ id: 'a', model: 'm', client: 'OpenAI/JS 6.30.1', stream: true });
    expect(told).toBe(1);
    log.update(record, { status: 'running' });
    expect(told).toBe(2);
    vi.advanceTimersByTime(100);
    for (let count = 0; count < 50; count++) log.progress(record);
    expect(told).toBe(2);
    vi.advanceTimersByTime(249);
    expect(told).toBe(2);
    vi.advanceTimersByTime(1);
    expect(told).toBe(3);
    expect(log.list()[0]).toMatchObject({ output_tokens: 50, first_token_at: 1_000_100 });
    vi.advanceTimersByTime(1000);
    log.update(record, { status: 'done', output_tokens: 60 });
    expect(told).toBe(4);
    // 60 tokens in the 1.25 s since the first one.
    expect(log.list()[0]).toMatchObject({ status: 'done', ended_at: 1_001_350, tokens_per_second: 48 });
  });

  it('keeps every request in flight and the newest finished ones, newest first, as copies', () => {
    const log = new RequestLog({ limit: 2 });
    const running = log.add({ id: 'running', model: 'm', client: undefined, stream: false });
    log.update(running, { status: 'running', queue_position: null });
    for (const id of ['one', 'two', 'three'])
      log.update(log.add({ id, model: 'm', client: '', stream: false }), { status: 'done' });
    const list = log.list();
    expect(list.map((record) => record.id)).toEqual(['three', 'two', 'running']);
    expect(list.find((record) => record.id === 'running')!.client).toBe('unknown');
    list[0]!.status = 'error';
    expect(log.list()[0]!.status).toBe('done');
  });

  it('clears the place in line when a request ends, and cuts long model and client texts', () => {
    const log = new RequestLog();
    const record = log.add({ id: 'q', model: 'x'.repeat(500), client: 'y'.repeat(500), stream: false });
    log.update(record, { status: 'queued', queue_position: 2 });
    log.update(record, { status: 'cancelled' });
    const [listed] = log.list();
    expect(listed).toMatchObject({ status: 'cancelled', queue_position: null });
    expect(listed!.model).toHaveLength(200);
    expect(listed!.client).toHaveLength(120);
  });
});
