// The dataset templates the builder offers: what a file should hold, and the format it reads as.

export interface DatasetTemplate {
  id: string;
  title: string;
  description: string;
  format: string;
  accepts: string;
  example: string;
}

export const DATASET_TEMPLATES: DatasetTemplate[] = [
  {
    id: "instructions",
    title: "Instruction pairs",
    description: "One instruction and the response you want, per record (Alpaca style).",
    format: "alpaca",
    accepts: ".jsonl,.json,.csv,.tsv,.parquet",
    example: '{"instruction": "Name a prime number.", "input": "", "output": "7"}',
  },
  {
    id: "chats",
    title: "Chat conversations",
    description: "Whole conversations as role/content messages (OpenAI style).",
    format: "messages",
    accepts: ".jsonl,.json,.parquet",
    example: '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}',
  },
  {
    id: "long-qa",
    title: "Long-document QA",
    description: "A long document with a question as the prompt, the answer as the completion.",
    format: "completion",
    accepts: ".jsonl,.json,.csv,.tsv,.parquet",
    example: '{"prompt": "<document>\\n\\nQuestion: Who signed it?", "completion": "The mayor."}',
  },
  {
    id: "text",
    title: "Plain text",
    description: "Text files (.txt, .md) or {\"text\": ...} records, learned as they are.",
    format: "text",
    accepts: ".txt,.md,.jsonl",
    example: '{"text": "Once upon a time..."}',
  },
];

export function templateById(id: string): DatasetTemplate {
  return DATASET_TEMPLATES.find((t) => t.id === id) ?? (DATASET_TEMPLATES[0] as DatasetTemplate);
}

/** A caution when the service read the file as another format than the template expects. */
export function formatMismatch(template: DatasetTemplate, detected: string): string | null {
  if (!detected || detected === template.format) return null;
  if (template.format === "messages" && detected === "sharegpt") return null; // both are conversations
  return `This file reads as "${detected}" records, not the "${template.format}" records of ${template.title.toLowerCase()}.`;
}
