import { lazy, Suspense, type ReactNode } from "react";
import { BrowserRouter, Navigate, Route, Routes } from "react-router";
import { AppShell } from "@/components/layout/app-shell";
import { LoadingState } from "@/components/states";
import { HomePage } from "@/features/home/home-page";
import { useAuth } from "@/lib/auth";

// Every page but home loads on demand: the first paint needs neither the
// tables nor the tree, and recharts rides with the pages that draw charts.
const SignInPage = lazy(() => import("@/features/auth/sign-in-page"));
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

// The Data quality page is the stewards' (the rejections API refuses other roles); an
// address typed by hand leads others home rather than to a page of 403 cards.
function StewardOnly({ children }: { children: ReactNode }) {
  const { can } = useAuth();
  return can.steward ? children : <Navigate to="/" replace />;
}

export function App() {
  return (
    <BrowserRouter>
      <Routes>
        <Route path="/sign-in" element={<Page><SignInPage /></Page>} />
        <Route element={<Guarded />}>
          <Route index element={<HomePage />} />
          <Route path="territories" element={<Page><TerritoriesPage /></Page>} />
          <Route path="territories/:territoryId" element={<Page><TerritoryClientsPage /></Page>} />
          <Route path="clients" element={<Page><HierarchyPage /></Page>} />
          <Route path="clients/:clientId" element={<Page><ClientDetailPage /></Page>} />
          <Route path="advisors" element={<Page><AdvisorsPage /></Page>} />
          <Route path="review" element={<Page><ReviewPage /></Page>} />
          <Route path="rules" element={<Page><RulesPage /></Page>} />
          <Route path="data-quality" element={<StewardOnly><Page><DataQualityPage /></Page></StewardOnly>} />
          <Route path="*" element={<Navigate to="/" replace />} />
        </Route>
      </Routes>
    </BrowserRouter>
  );
}
