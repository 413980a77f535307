// The preload runs sandboxed with context isolation: it exposes one narrow bridge and never the ipcRenderer itself.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { apiChannel, type BridgeSignal, type ClemplayBridge } from '../../src-shared/bridge.js';

const listeners = new Set<(data: string) => void>();
ipcRenderer.on(apiChannel, (_event: IpcRendererEvent, data: unknown) => {
  if (typeof data !== 'string') return;
  for (const listener of listeners) listener(data);
});

function signal(value: BridgeSignal): void {
  ipcRenderer.send(apiChannel, value);
}

const bridge: ClemplayBridge = {
  open: () => signal({ kind: 'open' }),
  send: (data) => {
    if (typeof data === 'string') signal({ kind: 'message', data });
  },
  onMessage: (listener) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  close: () => signal({ kind: 'close' }),
};

contextBridge.exposeInMainWorld('clemplay', bridge);
