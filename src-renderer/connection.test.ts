import { describe, expect, it } from 'vitest';
import {
  nextConnectionStatus,
  probeOutcome,
  reconnectDelayMs,
  type ConnectionStatus,
  type SocketState,
} from './connection';

describe('connection status', () => {
  it('follows the socket: first connecting, then connected, reconnecting after a loss', () => {
    const steps: [SocketState, ConnectionStatus][] = [
      ['connecting', 'connecting'],
      ['pending', 'connected'],
      ['connecting', 'reconnecting'],
      ['idle', 'reconnecting'],
      ['connecting', 'reconnecting'],
      ['pending', 'connected'],
    ];
    let status: ConnectionStatus = 'connecting';
    for (const [socket, expected] of steps) {
      status = nextConnectionStatus(status, socket);
      expect(status).toBe(expected);
    }
  });

  it('stays disconnected (an expired link) until the socket really opens', () => {
    expect(nextConnectionStatus('disconnected', 'connecting')).toBe('disconnected');
    expect(nextConnectionStatus('disconnected', 'pending')).toBe('connected');
  });

  it('retries soon after a loss and then every 3 s', () => {
    expect([0, 1, 2, 3, 10].map(reconnectDelayMs)).toEqual([500, 1000, 2000, 3000, 3000]);
  });

  it('reads a refusal as an expired link', () => {
    expect(probeOutcome(403)).toBe('refused');
    expect(probeOutcome(401)).toBe('refused');
    expect(probeOutcome(200)).toBe('answers');
    expect(probeOutcome(404)).toBe('answers');
  });
});
