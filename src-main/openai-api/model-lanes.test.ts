import { describe, expect, it } from 'vitest';
import { rejection } from '../testing/rejection.js';
import { ModelLanes } from './model-lanes.js';

const never = new AbortController().signal;

describe('ModelLanes', () => {
  it('lets one request at a time through a lane of width 1, in arrival order, telling each its place', async () => {
    const lanes = new ModelLanes();
    const places: Record<string, number[]> = { b: [], c: [] };
    const endA = await lanes.enter('model', 1, never, () => undefined);
    const admitted: string[] = [];
    const b = lanes
      .enter('model', 1, never, (place) => places.b!.push(place))
      .then((end) => {
        admitted.push('b');
        return end;
      });
    const c = lanes
      .enter('model', 1, never, (place) => places.c!.push(place))
      .then((end) => {
        admitted.push('c');
        return end;
      });
    expect(places).toEqual({ b: [1], c: [2] });
    endA();
    const endB = await b;
    expect(admitted).toEqual(['b']);
    expect(places.c).toEqual([2, 1]);
    endB();
    endB(); // ending a turn twice frees one turn only
    (await c)();
    expect(admitted).toEqual(['b', 'c']);
  });

  it('moves the line up when a waiting request is aborted, and rejects it with aborted', async () => {
    const lanes = new ModelLanes();
    const endA = await lanes.enter('model', 1, never, () => undefined);
    const controller = new AbortController();
    const b = lanes.enter('model', 1, controller.signal, () => undefined);
    const places: number[] = [];
    const c = lanes.enter('model', 1, never, (place) => places.push(place));
    controller.abort();
    expect((await rejection(b)).code).toBe('aborted');
    expect(places).toEqual([2, 1]);
    endA();
    (await c)();
  });

  it('runs as many at once as the lane is wide, and keeps lanes apart', async () => {
    const lanes = new ModelLanes();
    const first = await lanes.enter('wide', 2, never, () => undefined);
    await lanes.enter('wide', 2, never, () => undefined);
    const places: number[] = [];
    const third = lanes.enter('wide', 2, never, (place) => places.push(place));
    // Another model's lane is free.
    await lanes.enter('other', 1, never, () => undefined);
    expect(places).toEqual([1]);
    first();
    await third;
  });

  it('refuses at once when the request is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    expect((await rejection(new ModelLanes().enter('model', 1, controller.signal, () => undefined))).code).toBe(
      'aborted',
    );
  });
});
