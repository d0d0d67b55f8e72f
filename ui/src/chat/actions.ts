import { api } from '../api/client';
import type { Message, Thread } from '../api/types';

/** Shows the neighbouring branch: the message's siblings, then the branch through the chosen one. */
export async function switchBranch(chatId: string, message: { id: string; sibling_index: number }, direction: -1 | 1): Promise<Thread | null> {
  const siblings: Message[] = await api.siblings(message.id);
  let i = siblings.findIndex((m) => m.id === message.id);
  if (i === -1) i = message.sibling_index;
  const target = siblings[i + direction];
  if (!target) return null;
  return api.branch(chatId, target.id);
}

/** A chat title from the first message: its first line, cut at a word near 48 characters. */
export function titleFrom(content: string): string {
  const line = content.trim().split('\n')[0].replace(/\s+/g, ' ').trim();
  if (line.length <= 48) return line;
  const cut = line.slice(0, 48);
  const space = cut.lastIndexOf(' ');
  return `${(space > 24 ? cut.slice(0, space) : cut).trim()}…`;
}

export function newId(): string {
  if (typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  return `${Date.now().toString(16)}-${Math.random().toString(16).slice(2)}-${Math.random().toString(16).slice(2)}`;
}
