import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";
import { meApiAuthMeGet } from "@/client/sdk.gen";
import type { Me } from "@/client/types.gen";
import { setToken, unwrap } from "@/lib/api";
import { capabilities, type Capabilities } from "@/lib/permissions";

const STORAGE_KEY = "territory-token";

export interface AuthState {
  token: string | null;
  me: Me | undefined;
  can: Capabilities;
  loading: boolean;
  signIn: (token: string) => void;
  signOut: () => void;
}

export const AuthContext = createContext<AuthState | null>(null);

function storedToken(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [token, setTokenState] = useState<string | null>(() => {
    const t = storedToken();
    setToken(t);
    return t;
  });

  const signIn = useCallback(
    (next: string) => {
      setToken(next);
      try {
        sessionStorage.setItem(STORAGE_KEY, next);
      } catch {
        /* private mode: the token lives in memory only */
      }
      queryClient.clear();
      setTokenState(next);
    },
    [queryClient],
  );

  const signOut = useCallback(() => {
    setToken(null);
    try {
      sessionStorage.removeItem(STORAGE_KEY);
    } catch {
      /* nothing stored */
    }
    queryClient.clear();
    setTokenState(null);
  }, [queryClient]);

  const me = useQuery({
    queryKey: ["me", token],
    queryFn: () => unwrap(meApiAuthMeGet()),
    enabled: token !== null,
    staleTime: Infinity,
    meta: { silent: true },
  });

  if (me.error && token !== null && (me.error as { status?: number }).status === 401) {
    // An expired or foreign token: back to the sign-in page.
    queueMicrotask(signOut);
  }

  const value = useMemo<AuthState>(
    () => ({
      token,
      me: me.data,
      can: capabilities(me.data?.roles ?? []),
      loading: token !== null && me.isPending,
      signIn,
      signOut,
    }),
    [token, me.data, me.isPending, signIn, signOut],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error("useAuth outside AuthProvider");
  return ctx;
}
