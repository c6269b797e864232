// Sign-in: a bearer token (a static token, or a JWT from the identity provider), checked by
// the service at once; it stays in this tab only.
import { useState } from "preact/hooks";

export function SignIn({ problem, onToken }: { problem: string | undefined; onToken(token: string): void }) {
  const [value, setValue] = useState("");
  return (
    <main class="sign-in">
      <h1>Spool</h1>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (value.trim()) onToken(value.trim());
        }}
      >
        <label for="token">Token</label>
        <input id="token" name="token" type="password" autocomplete="off" value={value} onInput={(e) => setValue(e.currentTarget.value)} required />
        <p class="hint">A token of this service (SPOOL_TOKENS_FILE) or a JWT from its identity provider. It is kept in this tab only.</p>
        <button type="submit">Sign in</button>
        {problem && (
          <p class="error" role="alert">
            {problem}
          </p>
        )}
      </form>
    </main>
  );
}
