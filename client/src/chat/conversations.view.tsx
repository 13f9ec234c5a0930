import { useState } from 'react';
import type { ConversationSummary } from '../lib/api.client';
import './conversations.css';

export interface ConversationsProps {
  conversations: ConversationSummary[] | null;
  currentId: string | undefined;
  /** An answer is streaming: switching would hide it, so the list waits. */
  busy: boolean;
  onNew: () => void;
  onOpen: (id: string) => void;
  onRename: (id: string, title: string) => Promise<void>;
  onDelete: (id: string) => Promise<void>;
}

/** The user's conversations (from the server): start a new one, switch, rename or delete the one on screen. */
export function ConversationsView({ conversations, currentId, busy, onNew, onOpen, onRename, onDelete }: ConversationsProps) {
  const [editing, setEditing] = useState<{ id: string; title: string } | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const attempt = async (work: () => Promise<void>, failure: string) => {
    try {
      await work();
      setError(null);
    } catch {
      setError(failure);
    }
  };

  return (
    <nav className="conversations" aria-label="Conversations">
      <div className="conversations-head">
        <button type="button" className="btn btn-small" data-testid="new-conversation" onClick={onNew} disabled={busy || currentId === undefined}>
          New conversation
        </button>
        {error && (
          <span className="chat-error" role="alert">
            {error}
          </span>
        )}
      </div>
      {conversations && conversations.length > 0 && (
        <ul className="conversation-list">
          {conversations.map((c) => {
            const current = c.id === currentId;
            if (editing?.id === c.id) {
              return (
                <li key={c.id} className="conversation current">
                  <form
                    className="conversation-rename"
                    onSubmit={(e) => {
                      e.preventDefault();
                      const title = editing.title.trim();
                      if (!title) return;
                      void attempt(async () => {
                        await onRename(c.id, title);
                        setEditing(null);
                      }, 'Could not rename the conversation.');
                    }}
                  >
                    <label className="visually-hidden" htmlFor={`title-${c.id}`}>
                      Conversation title
                    </label>
                    <input
                      id={`title-${c.id}`}
                      data-testid="conversation-title-input"
                      value={editing.title}
                      maxLength={120}
                      autoFocus
                      onChange={(e) => setEditing({ id: c.id, title: e.target.value })}
                      onKeyDown={(e) => e.key === 'Escape' && setEditing(null)}
                    />
                    <button type="submit" className="btn btn-small btn-primary" data-testid="save-title">
                      Save
                    </button>
                    <button type="button" className="btn btn-small btn-ghost" onClick={() => setEditing(null)}>
                      Cancel
                    </button>
                  </form>
                </li>
              );
            }
            return (
              <li key={c.id} className={`conversation ${current ? 'current' : ''}`}>
                <button
                  type="button"
                  className="conversation-open"
                  data-testid="conversation-item"
                  data-conversation-id={c.id}
                  aria-current={current ? 'true' : undefined}
                  disabled={busy && !current}
                  onClick={() => onOpen(c.id)}
                  title={c.title}
                >
                  {c.title}
                </button>
                {current && !busy && confirming !== c.id && (
                  <span className="conversation-actions">
                    <button type="button" className="btn btn-small btn-ghost" data-testid="rename-conversation" onClick={() => setEditing({ id: c.id, title: c.title })}>
                      Rename
                    </button>
                    <button type="button" className="btn btn-small btn-ghost" data-testid="delete-conversation" onClick={() => setConfirming(c.id)}>
                      Delete
                    </button>
                  </span>
                )}
                {confirming === c.id && (
                  <span className="conversation-actions" role="group" aria-label="Delete this conversation?">
                    <button
                      type="button"
                      className="btn btn-small btn-danger"
                      data-testid="confirm-delete"
                      onClick={() => void attempt(async () => {
                        setConfirming(null);
                        await onDelete(c.id);
                      }, 'Could not delete the conversation.')}
                    >
                      Delete for good
                    </button>
                    <button type="button" className="btn btn-small btn-ghost" onClick={() => setConfirming(null)}>
                      Keep
                    </button>
                  </span>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </nav>
  );
}
