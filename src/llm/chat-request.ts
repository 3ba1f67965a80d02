/** A plain-text content part. */
export interface TextPart {
  type: 'text';
  text: string;
}

/** How closely a vision model should look at an image (OpenAI's `detail`; ignored elsewhere). */
export type ImageDetail = 'auto' | 'low' | 'high';

/** An image given by URL (`https:` or a `data:` URL). */
export interface ImageUrlPart {
  type: 'image';
  url: string;
  detail?: ImageDetail;
}

/** An image given inline as base64 (without the `data:` prefix). */
export interface ImageDataPart {
  type: 'image';
  /** Base64-encoded bytes. */
  data: string;
  /** e.g. `image/png`, `image/jpeg`. */
  mediaType: string;
  detail?: ImageDetail;
}

/** An image part: by URL or inline; tell them apart with `'url' in part`. */
export type ImagePart = ImageUrlPart | ImageDataPart;

/** What a user message or tool result may contain. */
export type ContentPart = TextPart | ImagePart;

/** A system message inside `messages` (in addition to, or instead of, `ChatRequest.system`). */
export interface SystemMessage {
  role: 'system';
  content: string;
}

/** A user turn. */
export interface UserMessage {
  role: 'user';
  content: string | ContentPart[];
}

/** A tool call made by the assistant in an earlier turn. */
export interface AssistantToolCall {
  /** The provider's call id (`call_…`, `toolu_…`); tool results refer to it. */
  id: string;
  name: string;
  /** The arguments as a JSON value (usually an object). */
  arguments: unknown;
  /** The exact argument JSON the model produced, when known; sent back verbatim where possible. */
  rawArguments?: string;
}

/** An assistant turn: text, tool calls, or both. */
export interface AssistantMessage {
  role: 'assistant';
  content?: string | TextPart[];
  toolCalls?: AssistantToolCall[];
}

/** The result of one tool call, answering an {@link AssistantToolCall} by `toolCallId`. */
export interface ToolMessage {
  role: 'tool';
  toolCallId: string;
  /**
   * The tool's name. Gemini needs it; when absent, adapters take it from the assistant tool call
   * with the same id.
   */
  name?: string;
  content: string | ContentPart[];
  /** The tool failed; `content` describes the failure (Anthropic's `is_error`). */
  isError?: boolean;
}

/** One message of the conversation. */
export type Message = SystemMessage | UserMessage | AssistantMessage | ToolMessage;

/** The role of a {@link Message}. */
export type Role = Message['role'];

/** A JSON Schema object (kept as plain data; adapters pass it through). */
export type JsonSchema = Record<string, unknown>;

/** A function the model may call. */
export interface ToolDefinition {
  name: string;
  description?: string;
  /** JSON Schema of the arguments object. */
  parameters: JsonSchema;
  /** Ask for strict schema adherence where the provider supports it (OpenAI `strict`). */
  strict?: boolean;
}

/** Whether and which tool the model must call: any, none, at least one, or the named one. */
export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

/** The shape of the answer: free text, any JSON object, or JSON matching a schema. */
export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json' }
  | { type: 'json_schema'; name: string; schema: JsonSchema; strict?: boolean; description?: string };

/** A provider-agnostic chat request. The target decides the model. */
export interface ChatRequest {
  /** The system prompt (Anthropic's `system`, Gemini's `systemInstruction`, a leading system message elsewhere). */
  system?: string;
  messages: Message[];
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  temperature?: number;
  topP?: number;
  /** Upper bound on generated tokens (`max_completion_tokens`, `max_tokens`, `maxOutputTokens`, `num_predict`). */
  maxTokens?: number;
  stop?: string[];
  responseFormat?: ResponseFormat;
  /**
   * Extra body fields per provider, merged into that provider's request as is, e.g.
   * `{ openai: { seed: 1 }, anthropic: { top_k: 5 } }`. Keys are provider names.
   */
  providerOptions?: Record<string, Record<string, unknown>>;
  /** Free-form tags for logs, events and metrics; not sent upstream unless an adapter says so. */
  metadata?: Record<string, string>;
  /** Aborts the request (and the stream) when it fires. */
  signal?: AbortSignal;
}
