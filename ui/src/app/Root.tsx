import { useEffect, useState } from 'react';
import { setToken, setUnauthorizedHandler } from '../api/client';
import { bootstrapToken, forgetToken, storeToken } from '../api/token';
import { TokenScreen } from '../components/TokenScreen';
import { App } from './App';

const boot = bootstrapToken();
setToken(boot.token);

export function Root() {
  const [token, setTok] = useState<string | null>(boot.token);
  const [refused, setRefused] = useState(false);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      forgetToken();
      setToken(null);
      setTok(null);
      setRefused(true);
    });
    return () => setUnauthorizedHandler(null);
  }, []);

  if (!token) {
    return (
      <TokenScreen
        refused={refused}
        onToken={(t) => {
          storeToken(t);
          setToken(t);
          setRefused(false);
          setTok(t);
        }}
      />
    );
  }
  return <App key={token} token={token} />;
}
