// The first message of a chat typed on the "new chat" screen. That view creates the chat and
// navigates to it, which mounts the chat's own view: this is the hand-off between the two.
// One per app (in the app context), so a new token's app starts with an empty one.
export interface FirstMessage {
  content: string;
  maxTokens?: number;
}

export interface Outbox {
  put(chatId: string, message: FirstMessage): void;
  /** The message waiting for this chat, removed as it is taken (it is sent once). */
  take(chatId: string): FirstMessage | undefined;
}

export function createOutbox(): Outbox {
  const waiting = new Map<string, FirstMessage>();
  return {
    put: (chatId, message) => void waiting.set(chatId, message),
    take: (chatId) => {
      const message = waiting.get(chatId);
      waiting.delete(chatId);
      return message;
    },
  };
}
