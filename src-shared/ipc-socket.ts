import type { ClemplayBridge } from './bridge.js';

type SocketEvent = 'open' | 'message' | 'close' | 'error';
type Listener = (this: WebSocketLike, event: { data?: string; code?: number; reason?: string }) => void;

/** The WebSocket ready states, as the WebSocket standard numbers them. */
const readyStates = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;

/** The part of the WebSocket interface tRPC's client uses, so one API client serves both transports. */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType: string;
  addEventListener(type: SocketEvent, listener: Listener): void;
  removeEventListener(type: SocketEvent, listener: Listener): void;
  send(data: string): void;
  close(code?: number): void;
}

/**
 * Makes a WebSocket-shaped class over the Electron preload bridge: tRPC's `createWSClient` accepts it as its
 * `WebSocket`, so the IPC transport reuses tRPC's own subscription and cancellation protocol unchanged.
 * Each socket is its own connection with its own id: when tRPC reconnects it opens the next socket before it closes
 * the old one, and the two must not hear or close each other. `later` runs a callback in a later task
 * (setTimeout): the client attaches its listeners a few promise turns after constructing the socket, so the open
 * event must not fire in a microtask.
 */
export function createIpcWebSocketClass(bridge: ClemplayBridge, later: (callback: () => void) => void) {
  let lastConnectionId = 0;
  return class IpcWebSocket implements WebSocketLike {
    static readonly CONNECTING = readyStates.CONNECTING;
    static readonly OPEN = readyStates.OPEN;
    static readonly CLOSING = readyStates.CLOSING;
    static readonly CLOSED = readyStates.CLOSED;
    readonly CONNECTING = readyStates.CONNECTING;
    readonly OPEN = readyStates.OPEN;
    readonly CLOSING = readyStates.CLOSING;
    readonly CLOSED = readyStates.CLOSED;

    readyState: number = readyStates.CONNECTING;
    binaryType = 'arraybuffer';
    private readonly listeners = new Map<SocketEvent, Set<Listener>>();
    private readonly stopListening: () => void;
    private readonly connection = ++lastConnectionId;

    constructor(_url: string) {
      this.stopListening = bridge.onMessage((reply) => {
        if (reply.connection !== this.connection || this.readyState !== readyStates.OPEN) return;
        if ('data' in reply) this.emit('message', { data: reply.data });
        else this.closeHere(1011, 'closed by main');
      });
      bridge.open(this.connection);
      // Open asynchronously, as a real socket does, so listeners added after construction see the event.
      later(() => {
        if (this.readyState !== readyStates.CONNECTING) return;
        this.readyState = readyStates.OPEN;
        this.emit('open', {});
      });
    }

    addEventListener(type: SocketEvent, listener: Listener): void {
      let set = this.listeners.get(type);
      if (set === undefined) this.listeners.set(type, (set = new Set()));
      set.add(listener);
    }

    removeEventListener(type: SocketEvent, listener: Listener): void {
      this.listeners.get(type)?.delete(listener);
    }

    send(data: string): void {
      if (this.readyState !== readyStates.OPEN) throw new Error('IPC connection is not open');
      bridge.send(this.connection, data);
    }

    close(code = 1000): void {
      if (this.readyState === readyStates.CLOSED) return;
      bridge.close(this.connection);
      this.closeHere(code, '');
    }

    private closeHere(code: number, reason: string): void {
      this.readyState = readyStates.CLOSED;
      this.stopListening();
      this.emit('close', { code, reason });
    }

    private emit(type: SocketEvent, event: Parameters<Listener>[0]): void {
      // A WebSocket calls its listeners with `this` set to the socket; tRPC's PING listener relies on it.
      for (const listener of [...(this.listeners.get(type) ?? [])]) listener.call(this, event);
    }
  };
}
