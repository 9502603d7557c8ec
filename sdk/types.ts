/** Wire shapes of protocol v1 as a client sees them (PROTOCOL.md). No server code is imported. */

export interface Watermark {
  delivered: number;
  read: number;
  readAt?: number;
}

export interface ConvView {
  id: string;
  kind: string;
  state: string;
  participants: string[];
  readOnly: boolean;
  lastSeq: number;
  watermarks: Record<string, Watermark>;
}

export interface Message {
  conv: string;
  seq: number;
  id: string;
  from: string;
  body: string;
  ts: number;
  cmid: string;
}

export interface InboxEntry {
  conv: string;
  kind: string;
  state: string;
  participants: string[];
  lastSeq: number;
  lastActivity: number;
  last?: Message;
  unread: number;
}

export interface Hello {
  user: string;
  node: string;
  limits: Record<string, number>;
}

export interface Ack {
  conv: string;
  seq: number;
  id: string;
  ts: number;
}

export interface Delivered {
  conv: string;
  user: string;
  seq: number;
}

export interface Read {
  conv: string;
  user: string;
  seq: number;
  at: number;
}

export interface Typing {
  conv: string;
  user: string;
  /** Epoch ms when the indicator lapses; 0 clears it. */
  until: number;
}

export interface StateChange {
  conv: string;
  state: string;
  readOnly: boolean;
  participants: string[];
}

export interface Joined {
  conv: ConvView;
  msgs: Message[];
}

export interface HistoryPage {
  msgs: Message[];
  next?: number;
}

export interface InboxPage {
  convs: InboxEntry[];
  next?: string;
}

/** Any frame from the server: `t` plus fields, validated where the SDK reads them. */
export type ServerFrame = { t: string; rid?: number } & Record<string, unknown>;

/** Any frame to the server. */
export type ClientFrame = { t: string } & Record<string, unknown>;
