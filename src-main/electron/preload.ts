// The preload runs sandboxed with context isolation: it exposes one narrow bridge and never the ipcRenderer itself.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import {
  apiChannel,
  isConnectionId,
  parseBridgeReply,
  type BridgeReply,
  type BridgeSignal,
  type ClemplayBridge,
} from '../../src-shared/bridge.js';

const listeners = new Set<(reply: BridgeReply) => void>();
ipcRenderer.on(apiChannel, (_event: IpcRendererEvent, value: unknown) => {
  const reply = parseBridgeReply(value);
  if (reply === undefined) return;
  for (const listener of listeners) listener(reply);
});

function signal(value: BridgeSignal): void {
  ipcRenderer.send(apiChannel, value);
}

// A new page of this window (a reload) starts with no connections; main closes what the last page left open.
signal({ kind: 'reset' });

const bridge: ClemplayBridge = {
  open: (connection) => {
    if (isConnectionId(connection)) signal({ kind: 'open', connection });
  },
  send: (connection, data) => {
    if (isConnectionId(connection) && typeof data === 'string') signal({ kind: 'message', connection, data });
  },
  onMessage: (listener) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  close: (connection) => {
    if (isConnectionId(connection)) signal({ kind: 'close', connection });
  },
};

contextBridge.exposeInMainWorld('clemplay', bridge);
