import type { ContentPart, Message } from './chat-request.js';

/** Characters of text in message content (text parts only; images are counted elsewhere). */
export function contentChars(content: string | readonly ContentPart[] | readonly { type: 'text'; text: string }[] | undefined): number {
  if (content === undefined) return 0;
  if (typeof content === 'string') return content.length;
  let n = 0;
  for (const part of content) if (part.type === 'text') n += part.text.length;
  return n;
}

/**
 * Characters a message sends as text: its content, and for an assistant turn its tool calls' names
 * and arguments. The basis of every token estimate (cost caps, the simulated provider's usage).
 */
export function messageChars(message: Message): number {
  switch (message.role) {
    case 'system':
      return message.content.length;
    case 'user':
    case 'tool':
      return contentChars(message.content);
    case 'assistant': {
      let n = contentChars(message.content);
      for (const call of message.toolCalls ?? []) n += call.name.length + (call.rawArguments ?? JSON.stringify(call.arguments) ?? '').length;
      return n;
    }
  }
}
