import { lazy, Suspense, type ReactNode } from "react";
import { BrowserRouter, Navigate, Route, Routes } from "react-router";
import { AppShell } from "@/components/layout/app-shell";
import { LoadingState } from "@/components/states";
import { SignInPage } from "@/features/auth/sign-in-page";
import { HomePage } from "@/features/home/home-page";
import { useAuth } from "@/lib/auth";

// Every page but home and sign-in loads on demand: the first paint needs neither the
// tables nor the tree, and recharts rides with the pages that draw charts.
const TerritoriesPage = lazy(() => import("@/features/territories/territories-page"));
const TerritoryClientsPage = lazy(() => import("@/features/territories/territory-clients-page"));
const HierarchyPage = lazy(() => import("@/features/clients/hierarchy-page"));
const ClientDetailPage = lazy(() => import("@/features/clients/client-detail-page"));
const AdvisorsPage = lazy(() => import("@/features/advisors/advisors-page"));
const ReviewPage = lazy(() => import("@/features/review/review-page"));
const RulesPage = lazy(() => import("@/features/rules/rules-page"));
const DataQualityPage = lazy(() => import("@/features/data-quality/data-quality-page"));

function Page({ children }: { children: ReactNode }) {
  return <Suspense fallback={<LoadingState rows={8} label="Loading page" />}>{children}</Suspense>;
}

function Guarded() {
  const { token, loading, me } = useAuth();
  if (!token) return <Navigate to="/sign-in" replace />;
  if (loading || !me)
    return (
      <div className="p-10">
        <LoadingState rows={6} label="Signing in" />
      </div>
    );
  return <AppShell />;
}

export function App() {
  return (
    <BrowserRouter>
      <Routes>
        <Route path="/sign-in" element={<SignInPage />} />
        <Route element={<Guarded />}>
          <Route index element={<HomePage />} />
          <Route path="territories" element={<Page><TerritoriesPage /></Page>} />
          <Route path="territories/:territoryId" element={<Page><TerritoryClientsPage /></Page>} />
          <Route path="clients" element={<Page><HierarchyPage /></Page>} />
          <Route path="clients/:clientId" element={<Page><ClientDetailPage /></Page>} />
          <Route path="advisors" element={<Page><AdvisorsPage /></Page>} />
          <Route path="review" element={<Page><ReviewPage /></Page>} />
          <Route path="rules" element={<Page><RulesPage /></Page>} />
          <Route path="data-quality" element={<Page><DataQualityPage /></Page>} />
          <Route path="*" element={<Navigate to="/" replace />} />
        </Route>
      </Routes>
    </BrowserRouter>
  );
}
