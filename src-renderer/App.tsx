import {
  Columns2,
  Database,
  FlaskConical,
  Gamepad2,
  HardDrive,
  MessagesSquare,
  Settings,
  type LucideIcon,
} from 'lucide-react';
import { lazy, Suspense } from 'react';
import { ConnectionBanner, ConnectionIndicator } from './components/ConnectionState';
import { PageLoading } from './components/states';
import { pages, useAppStore, type PageId } from './store';

// Each page is its own chunk: the first page shown loads only what it needs.
const RegistryPage = lazy(() => import('./pages/RegistryPage').then((module) => ({ default: module.RegistryPage })));
const PlaygroundPage = lazy(() =>
  import('./pages/PlaygroundPage').then((module) => ({ default: module.PlaygroundPage })),
);
const ChatPage = lazy(() => import('./pages/ChatPage').then((module) => ({ default: module.ChatPage })));
const PairPage = lazy(() => import('./pages/PairPage').then((module) => ({ default: module.PairPage })));
const LocalModelsPage = lazy(() =>
  import('./pages/LocalModelsPage').then((module) => ({ default: module.LocalModelsPage })),
);
const SettingsPage = lazy(() => import('./pages/SettingsPage').then((module) => ({ default: module.SettingsPage })));
const PlaceholderPage = lazy(() =>
  import('./pages/PlaceholderPage').then((module) => ({ default: module.PlaceholderPage })),
);

const icons: Record<PageId, LucideIcon> = {
  registry: Database,
  playground: FlaskConical,
  chat: MessagesSquare,
  pair: Columns2,
  games: Gamepad2,
  'local-models': HardDrive,
  settings: Settings,
};

function Page({ page }: { page: PageId }) {
  switch (page) {
    case 'registry':
      return <RegistryPage />;
    case 'chat':
      return <ChatPage />;
    case 'pair':
      return <PairPage />;
    case 'local-models':
      return <LocalModelsPage />;
    case 'playground':
      return <PlaygroundPage />;
    case 'settings':
      return <SettingsPage />;
    default:
      return <PlaceholderPage title={pages.find((entry) => entry.id === page)?.label ?? page} />;
  }
}

export function App() {
  const page = useAppStore((state) => state.page);
  const goTo = useAppStore((state) => state.goTo);
  return (
    <div className="app">
      <nav className="nav" aria-label="Pages">
        <div className="brand">clemplay</div>
        {pages.map((entry) => {
          const Icon = icons[entry.id];
          return (
            <button
              key={entry.id}
              type="button"
              data-testid={`nav-${entry.id}`}
              className={entry.id === page ? 'nav-item active' : 'nav-item'}
              aria-current={entry.id === page ? 'page' : undefined}
              onClick={() => goTo(entry.id)}
            >
              <Icon aria-hidden size={16} />
              {entry.label}
            </button>
          );
        })}
        <div className="grow" />
        <ConnectionIndicator />
      </nav>
      <main className="page" data-testid={`page-${page}`}>
        <ConnectionBanner />
        <Suspense fallback={<PageLoading />}>
          <Page page={page} />
        </Suspense>
      </main>
    </div>
  );
}
