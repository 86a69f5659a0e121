// Small XML helpers shared by the WS-Management and legacy SOAP codecs: escaping for
// building envelopes, and one bounded, DTD-free parse for reading them.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { AMT_ERROR_CODES, AmtError } from './errors.ts';

export class XmlError extends AmtError {
  override readonly name = 'XmlError';
  declare readonly code: typeof AMT_ERROR_CODES.xml;
  constructor(message: string, options?: { cause?: unknown }) {
    super(AMT_ERROR_CODES.xml, message, options);
  }
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** Parsed XML: element names without prefixes, attributes as "@_name", text as "#text" when mixed with attributes. */
export type XmlNode = string | { readonly [key: string]: XmlNode | XmlNode[] | undefined };

const parser = new XMLParser({
  removeNSPrefix: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
});

/**
 * Parses a SOAP message. SOAP forbids document type declarations (SOAP 1.2 Part 1 §5,
 * SOAP 1.1 §3), so any DOCTYPE is refused before parsing: no entity expansion, ever.
 */
export function parseXml(text: string, maxLength: number): Record<string, XmlNode> {
  if (text.length > maxLength) throw new XmlError(`XML document of ${text.length} characters exceeds the limit of ${maxLength}`);
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new XmlError('XML document type declarations are not allowed in SOAP');
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new XmlError(`malformed XML: ${valid.err.msg} (line ${valid.err.line})`);
  const parsed: unknown = parser.parse(text);
  if (typeof parsed !== 'object' || parsed === null) throw new XmlError('XML document has no root element');
  return parsed as Record<string, XmlNode>;
}

/** The child element `name` of an element (the first, when repeated). */
export function child(node: XmlNode | XmlNode[] | undefined, name: string): XmlNode | undefined {
  const one = Array.isArray(node) ? node[0] : node;
  if (one === undefined || typeof one === 'string') return undefined;
  const value = one[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Every child element `name` of an element. */
export function children(node: XmlNode | undefined, name: string): XmlNode[] {
  if (node === undefined || typeof node === 'string') return [];
  const value = node[name];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** An element's text content ('' for an empty element, undefined when absent). */
export function text(node: XmlNode | XmlNode[] | undefined): string | undefined {
  const one = Array.isArray(node) ? node[0] : node;
  if (one === undefined) return undefined;
  if (typeof one === 'string') return one;
  const t = one['#text'];
  return typeof t === 'string' ? t : '';
}

/** The element's child names, in document order, skipping attributes and text. */
export function elementNames(node: XmlNode | undefined): string[] {
  if (node === undefined || typeof node === 'string') return [];
  return Object.keys(node).filter((k) => !k.startsWith('@_') && k !== '#text');
}

/** The SOAP Body of an Envelope (1.1 or 1.2, prefixes already removed), or undefined. */
export function soapBody(doc: Record<string, XmlNode>): XmlNode | undefined {
  return child(doc['Envelope'], 'Body');
}
export function soapHeader(doc: Record<string, XmlNode>): XmlNode | undefined {
  return child(doc['Envelope'], 'Header');
}

/** Parses a decimal integer element value strictly; undefined when absent or not a number. */
export function intValue(node: XmlNode | XmlNode[] | undefined): number | undefined {
  const t = text(node);
  if (t === undefined || !/^-?\d+$/.test(t.trim())) return undefined;
  return Number.parseInt(t.trim(), 10);
}
