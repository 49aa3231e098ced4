import { Link } from 'react-router-dom';
import { EmptyState } from '../components/ui.js';

export function NotFoundPage({ message = 'There is no page at this address.' }: { message?: string }) {
  return (
    <EmptyState title="Nothing here" testId="not-found" action={<Link className="btn btn-primary" to="/">Go to the dashboard</Link>}>
      {message}
    </EmptyState>
  );
}
