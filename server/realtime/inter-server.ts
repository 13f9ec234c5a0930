/**
 * Events one web instance sends the others through the Socket.IO adapter
 * (`serverSideEmit`), never seen by clients.
 */
// A type, not an interface: the signal push takes any event map with an index signature.
export type InterServerEvents = {
  /** Stop the user's answer with this id if it runs here; the ack says whether it did. */
  'chat:abort': (request: { userId: string; id: string }, ack: (aborted: boolean) => void) => void;
};
