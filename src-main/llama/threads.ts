import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * Physical CPU cores: hyper-threads share a core's arithmetic units, which is what token generation is bound by.
 * On Linux, counted from /proc/cpuinfo (distinct physical id + core id pairs); elsewhere, and when cpuinfo says
 * nothing useful, the logical count.
 */
export function physicalCoreCount(cpuinfo?: string): number {
  let text = cpuinfo;
  if (text === undefined && process.platform === 'linux') {
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      text = undefined;
    }
  }
  if (text !== undefined) {
    const cores = new Set<string>();
    for (const block of text.split(/\n\s*\n/)) {
      const physical = /^physical id\s*:\s*(\d+)/m.exec(block)?.[1];
      const core = /^core id\s*:\s*(\d+)/m.exec(block)?.[1];
      if (physical !== undefined && core !== undefined) cores.add(`${physical}:${core}`);
    }
    if (cores.size > 0) return cores.size;
  }
  return Math.max(1, availableParallelism());
}

/**
 * The thread count `threads: "auto"` means: half the physical cores, at least one. Measured on a 2-core machine
 * (bench/llamacpp.ts tries 1..cores on the same file in one run): 1 thread generated ~20× faster than 2 on a tiny
 * model and ~1.8× faster on a 150M-parameter Q4_0 model, because llama.cpp's worker threads spin on barriers and
 * every other thread in the process (Node's event loop, the web host, a second chat) then stalls them all.
 * Leaving half the cores free keeps that headroom on bigger machines too.
 */
export function autoThreadCount(physicalCores: number = physicalCoreCount()): number {
  return Math.max(1, Math.floor(physicalCores / 2));
}
