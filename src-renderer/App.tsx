import { ChatPage } from './pages/ChatPage';
import { LocalModelsPage } from './pages/LocalModelsPage';
import { PairPage } from './pages/PairPage';
import { PlaceholderPage } from './pages/PlaceholderPage';
import { PlaygroundPage } from './pages/PlaygroundPage';
import { RegistryPage } from './pages/RegistryPage';
import { SettingsPage } from './pages/SettingsPage';
import { pages, useAppStore, type PageId } from './store';

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
        {pages.map((entry) => (
          <button
            key={entry.id}
            type="button"
            data-testid={`nav-${entry.id}`}
            className={entry.id === page ? 'nav-item active' : 'nav-item'}
            aria-current={entry.id === page ? 'page' : undefined}
            onClick={() => goTo(entry.id)}
          >
            {entry.label}
          </button>
        ))}
      </nav>
      <main className="page" data-testid={`page-${page}`}>
        <Page page={page} />
      </main>
    </div>
  );
}
