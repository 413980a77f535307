import { CircleAlert, Inbox } from 'lucide-react';
import type { ReactNode } from 'react';

/** Nothing to show yet, and what to do about it. */
export function EmptyState({ title, children, testId }: { title: string; children?: ReactNode; testId?: string }) {
  return (
    <div className="state empty-state" data-testid={testId}>
      <Inbox aria-hidden size={20} />
      <div>
        <strong>{title}</strong>
        {children !== undefined && <div className="muted">{children}</div>}
      </div>
    </div>
  );
}

/** Something failed: what, and (in `children`) what to do. Announced to screen readers. */
export function ErrorState({ children, testId }: { children: ReactNode; testId?: string }) {
  return (
    <div role="alert" className="state error-state" data-testid={testId}>
      <CircleAlert aria-hidden size={18} />
      <div>{children}</div>
    </div>
  );
}

/** Grey bars the shape of the content that is loading. */
export function Skeleton({ lines = 3, testId }: { lines?: number; testId?: string }) {
  return (
    <div className="stack" aria-busy="true" data-testid={testId}>
      <span className="visually-hidden">Loading…</span>
      {Array.from({ length: lines }, (_, line) => (
        <div key={line} className="skeleton skeleton-line" />
      ))}
    </div>
  );
}

/** A page's chunk is on its way. */
export function PageLoading() {
  return (
    <section className="stack">
      <div className="skeleton skeleton-title" />
      <Skeleton lines={5} testId="page-loading" />
    </section>
  );
}
