// The few shared bits of page furniture: a failure to show, an outcome to announce, the
// previous/next buttons of a keyset-paged list, and a page that the caller's role cannot use.
import type { ComponentChildren } from "preact";

/** A failure, announced to screen readers at once; nothing when there is none. */
export function Alert({ text }: { text: string | undefined }) {
  return text ? (
    <p class="error" role="alert">
      {text}
    </p>
  ) : null;
}

/** An outcome ("Retried 2 of 2"), announced politely; nothing when there is none. */
export function Status({ text }: { text: string | undefined }) {
  return text ? (
    <p class="note" role="status">
      {text}
    </p>
  ) : null;
}

/**
 * Previous and next page of a keyset-paged list. `tokens` holds the page tokens that led to
 * this page (the first page's is ""), so going back is a pop.
 */
export function Pager({ tokens, next, onChange }: { tokens: string[]; next: string | undefined; onChange(tokens: string[]): void }) {
  return (
    <>
      <button type="button" class="quiet" disabled={tokens.length < 2} onClick={() => onChange(tokens.slice(0, -1))}>
        Previous page
      </button>
      <button type="button" class="quiet" disabled={!next} onClick={() => next && onChange([...tokens, next])}>
        Next page
      </button>
    </>
  );
}

/** A page the caller's role cannot use: its title and why (the service would refuse its calls). */
export function NeedsRole({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <section>
      <h1>{title}</h1>
      <p>{children}</p>
    </section>
  );
}
