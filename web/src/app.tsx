// Routes, and the gate in front of them: nobody sees a page before the server says who they are.
import { lazy, Suspense } from 'react';
import { BrowserRouter, Navigate, Route, Routes } from 'react-router-dom';
import { AuthProvider, useAuth } from './auth/auth.context.js';
import { AppLayout } from './components/app-layout.js';
import { ConfirmProvider } from './components/modal.js';
import { ToastProvider } from './components/toast.provider.js';
import { EmptyState, Loading } from './components/ui.js';
import { BatchCreatePage } from './pages/batch-create.page.js';
import { BatchDetailPage } from './pages/batch-detail.page.js';
import { BatchesPage } from './pages/batches.page.js';
import { DashboardPage } from './pages/dashboard.page.js';
import { DeploymentsPage } from './pages/deployments.page.js';
import { ImagesPage } from './pages/images.page.js';
import { KartNumbersPage } from './pages/kart-numbers.page.js';
import { LabelsPage } from './pages/labels.page.js';
import { LoginPage } from './pages/login.page.js';
import { NotFoundPage } from './pages/not-found.page.js';
import { SystemPage } from './pages/system.page.js';
import { UsersPage } from './pages/users.page.js';
import { VenueDetailPage } from './pages/venue-detail.page.js';
import { VenuesPage } from './pages/venues.page.js';

// Charts are the heaviest dependency and only the reports page draws them: load it when first opened.
const ReportsPage = lazy(() => import('./pages/reports.page.js').then((m) => ({ default: m.ReportsPage })));

function Gate() {
  const { state, can } = useAuth();
  if (state.status === 'checking') return <div className="vh-100 d-flex align-items-center justify-content-center"><Loading label="Starting Pitcrew…" /></div>;
  if (state.status === 'unreachable') {
    return (
      <div className="container py-5" data-testid="server-unreachable">
        <EmptyState title="The Pitcrew server cannot be reached">
          {state.message} This page tries again every few seconds and carries on by itself once the server answers.
        </EmptyState>
      </div>
    );
  }
  if (state.status === 'signed-out') return <LoginPage />;
  return (
    <Routes>
      {/* Outside the frame: what prints is the label sheets alone. */}
      <Route path="labels" element={<LabelsPage />} />
      <Route element={<AppLayout />}>
        <Route index element={<DashboardPage />} />
        <Route path="login" element={<Navigate to="/" replace />} />
        <Route path="venues" element={<VenuesPage />} />
        <Route path="venues/:code" element={<VenueDetailPage />} />
        <Route path="kart-numbers" element={<KartNumbersPage />} />
        <Route path="batches" element={<BatchesPage />} />
        <Route path="batches/new" element={can.canWrite ? <BatchCreatePage /> : <Navigate to="/batches" replace />} />
        <Route path="batches/:id" element={<BatchDetailPage />} />
        <Route path="images" element={<ImagesPage />} />
        <Route path="deployments" element={<DeploymentsPage />} />
        <Route path="reports" element={<Suspense fallback={<Loading />}><ReportsPage /></Suspense>} />
        <Route path="system" element={<SystemPage />} />
        <Route path="users" element={can.isAdmin ? <UsersPage /> : <NotFoundPage message="Only administrators manage users and API tokens." />} />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}

export function App() {
  return (
    <BrowserRouter>
      <ToastProvider>
        <ConfirmProvider>
          <AuthProvider>
            <Gate />
          </AuthProvider>
        </ConfirmProvider>
      </ToastProvider>
    </BrowserRouter>
  );
}
