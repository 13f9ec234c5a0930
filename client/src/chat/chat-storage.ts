import { parseInFlight, type InFlight } from './history.logic';

/** Every chat key in browser storage starts with this; sign-out removes them all. */
const PREFIX = 'zmarty.chat.';
const inFlightKey = (userId: string) => `${PREFIX}inflight.${userId}`;

export function loadInFlight(userId: string): InFlight | null {
  try {
    return parseInFlight(sessionStorage.getItem(inFlightKey(userId)));
  } catch {
    return null;
  }
}

export function saveInFlight(userId: string, inFlight: InFlight | null): void {
  try {
    if (inFlight) sessionStorage.setItem(inFlightKey(userId), JSON.stringify(inFlight));
    else sessionStorage.removeItem(inFlightKey(userId));
  } catch {
    /* storage disabled: a reload then loses the stream, the stored answer is still on the server */
  }
}

/** At sign-out: nothing of the chat stays on a shared machine (older builds kept whole histories under this prefix too). */
export function clearChatStorage(): void {
  for (const storage of [sessionStorage, localStorage]) {
    try {
      const keys = Array.from({ length: storage.length }, (_, i) => storage.key(i)).filter((k): k is string => k?.startsWith(PREFIX) ?? false);
      for (const key of keys) storage.removeItem(key);
    } catch {
      /* storage disabled: nothing to clear */
    }
  }
}

const currentKey = (userId: string) => `${PREFIX}current.${userId}`;

/** The conversation this tab shows, so a reload shows it again (its content comes from the server). */
export function loadCurrentConversation(userId: string): string | undefined {
  try {
    return sessionStorage.getItem(currentKey(userId)) ?? undefined;
  } catch {
    return undefined;
  }
}

export function saveCurrentConversation(userId: string, conversationId: string | undefined): void {
  try {
    if (conversationId) sessionStorage.setItem(currentKey(userId), conversationId);
    else sessionStorage.removeItem(currentKey(userId));
  } catch {
    /* storage disabled: a reload shows the latest conversation */
  }
}

const voiceNoticeKey = (userId: string) => `${PREFIX}voiceNotice.${userId}`;

/** The answer that showed the voice-unavailable notice in this browser session (see `voiceNoticeAnswerId`). */
export function loadVoiceNotice(userId: string): string | null {
  try {
    return sessionStorage.getItem(voiceNoticeKey(userId));
  } catch {
    return null;
  }
}

export function saveVoiceNotice(userId: string, answerId: string): void {
  try {
    sessionStorage.setItem(voiceNoticeKey(userId), answerId);
  } catch {
    /* storage disabled: the notice shows once per page load instead */
  }
}
