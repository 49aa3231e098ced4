// Administration: who may sign in and with which role, API tokens for scripts, and the audit log of changes; each
// tab lives in components/users/.
import { useState } from 'react';
import { AuditTab } from '../components/users/audit-tab.js';
import { TokensTab } from '../components/users/tokens-tab.js';
import { UsersTab } from '../components/users/users-tab.js';
import { PageHeader } from '../components/ui.js';

const TABS = [
  { id: 'users', label: 'Users' },
  { id: 'tokens', label: 'API tokens' },
  { id: 'audit', label: 'Audit log' },
] as const;

export function UsersPage() {
  const [tab, setTab] = useState<(typeof TABS)[number]['id']>('users');
  return (
    <>
      <PageHeader title="Users & access" subtitle="Accounts, API tokens for scripts, and who changed what" />
      <ul className="nav nav-tabs mb-3" role="tablist">
        {TABS.map((t) => (
          <li className="nav-item" role="presentation" key={t.id}>
            <button type="button" role="tab" aria-selected={tab === t.id} className={`nav-link${tab === t.id ? ' active' : ''}`} onClick={() => setTab(t.id)} data-testid={`tab-${t.id}`}>{t.label}</button>
          </li>
        ))}
      </ul>
      <div role="tabpanel">
        {tab === 'users' && <UsersTab />}
        {tab === 'tokens' && <TokensTab />}
        {tab === 'audit' && <AuditTab />}
      </div>
    </>
  );
}
