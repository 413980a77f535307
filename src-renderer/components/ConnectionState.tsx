import { CircleCheck, LoaderCircle, Unplug } from 'lucide-react';
import { useConnectionStore } from '../connection-store';

const labels = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  disconnected: 'Disconnected',
} as const;

/** The nav's line about the link to clemplay: connected, reconnecting or disconnected. */
export function ConnectionIndicator() {
  const status = useConnectionStore((state) => state.status);
  const Icon = status === 'connected' ? CircleCheck : status === 'disconnected' ? Unplug : LoaderCircle;
  return (
    <div className={`connection connection-${status}`} data-testid="connection-state" data-state={status} role="status">
      <Icon aria-hidden size={14} className={status === 'connected' || status === 'disconnected' ? '' : 'spin'} />
      {labels[status]}
    </div>
  );
}

/** Over every page while the link is down: what happened, and what to do. */
export function ConnectionBanner() {
  const status = useConnectionStore((state) => state.status);
  if (status === 'reconnecting') {
    return (
      <div className="banner banner-warning" role="alert" data-testid="connection-banner">
        <LoaderCircle aria-hidden size={16} className="spin" />
        <div>
          <strong>Lost the connection to clemplay.</strong> Reconnecting on its own… What you typed stays here.
        </div>
      </div>
    );
  }
  if (status === 'disconnected') {
    return (
      <div className="banner banner-error" role="alert" data-testid="connection-banner">
        <Unplug aria-hidden size={16} />
        <div>
          <strong>This link has expired: clemplay was restarted.</strong> Each run has a new address. Run{' '}
          <code>clemplay serve</code> (or look at the terminal where it runs) and open the URL it prints.
        </div>
      </div>
    );
  }
  return null;
}
