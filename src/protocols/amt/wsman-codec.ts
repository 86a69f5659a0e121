// WS-Management requests as a client sends them and the answers it reads (DMTF DSP0226 1.0:
// §7 WS-Transfer Get and Put, §8 WS-Enumeration, §9 custom actions ("invoke"), §11 Identify).
// Pure: message IDs are passed in; no I/O.
import { ACTIONS, ADDRESS_ANONYMOUS, NS } from './constants.ts';
import { child, children, elementNames, escapeXml, intValue, parseXml, soapBody, soapHeader, text } from './xml.ts';
import type { XmlNode } from './xml.ts';

/** An endpoint reference to a CIM instance: its class URI and selectors (DSP0226 §5.1). */
export interface EndpointReference {
  readonly resourceUri: string;
  readonly selectors: Readonly<Record<string, string>>;
}

/** One method parameter: text, or a reference to an instance. Order is kept as given (the schema's order). */
export interface InvokeParameter {
  readonly name: string;
  readonly value: string | EndpointReference;
}

export interface WsmanRequest {
  readonly to: string;
  readonly resourceUri: string;
  readonly messageId: string;
  readonly selectors?: Readonly<Record<string, string>>;
  readonly operationTimeout?: string;
}

/** The text properties of a CIM instance; repeated properties (arrays) become string[]. Nested elements are left out. */
export type CimInstance = Readonly<Record<string, string | readonly string[]>>;

export type WsmanAnswer =
  | { readonly kind: 'ok'; readonly action: string | undefined; readonly body: XmlNode | undefined; readonly header: XmlNode | undefined }
  | { readonly kind: 'fault'; readonly code: string; readonly subcode: string | undefined; readonly reason: string; readonly detail: string | undefined };

export const WSMAN_MAX_RESPONSE_CHARS = 1 << 20;

function selectorSet(selectors: Readonly<Record<string, string>> | undefined): string {
  const entries = Object.entries(selectors ?? {});
  if (entries.length === 0) return '';
  return `<w:SelectorSet>${entries.map(([k, v]) => `<w:Selector Name="${escapeXml(k)}">${escapeXml(v)}</w:Selector>`).join('')}</w:SelectorSet>`;
}

/** An EPR in the form AMT expects inside method parameters (Ironic amt/common.py _generate_powerstate_xml). */
export function endpointReferenceXml(reference: EndpointReference): string {
  return (
    `<a:Address>${ADDRESS_ANONYMOUS}</a:Address><a:ReferenceParameters>` +
    `<w:ResourceURI>${escapeXml(reference.resourceUri)}</w:ResourceURI>${selectorSet(reference.selectors)}</a:ReferenceParameters>`
  );
}

function envelope(action: string, request: WsmanRequest, body: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<s:Envelope xmlns:s="${NS.soap12}" xmlns:a="${NS.addressing}" xmlns:w="${NS.wsman}" xmlns:n="${NS.enumeration}">` +
    '<s:Header>' +
    `<a:Action s:mustUnderstand="true">${escapeXml(action)}</a:Action>` +
    `<a:To s:mustUnderstand="true">${escapeXml(request.to)}</a:To>` +
    `<w:ResourceURI s:mustUnderstand="true">${escapeXml(request.resourceUri)}</w:ResourceURI>` +
    `<a:MessageID s:mustUnderstand="true">${escapeXml(request.messageId)}</a:MessageID>` +
    `<a:ReplyTo><a:Address s:mustUnderstand="true">${ADDRESS_ANONYMOUS}</a:Address></a:ReplyTo>` +
    (request.operationTimeout ? `<w:OperationTimeout>${escapeXml(request.operationTimeout)}</w:OperationTimeout>` : '') +
    selectorSet(request.selectors) +
    '</s:Header>' +
    `<s:Body>${body}</s:Body></s:Envelope>`
  );
}

/** WS-Transfer Get of one instance (DSP0226 §7.3). */
export function buildGet(request: WsmanRequest): string {
  return envelope(ACTIONS.get, request, '');
}

/** A property value as written into an instance; numbers become their decimal text. */
export type PropertyValue = string | number | readonly (string | number)[];

/** An instance element in its class namespace; array properties repeat their element, in the order given. */
export function instanceXml(className: string, resourceUri: string, properties: Readonly<Record<string, PropertyValue>>): string {
  const props = Object.entries(properties)
    .map(([name, value]) => (Array.isArray(value) ? value : [value]).map((v: string | number) => `<h:${name}>${escapeXml(String(v))}</h:${name}>`).join(''))
    .join('');
  return `<h:${className} xmlns:h="${escapeXml(resourceUri)}">${props}</h:${className}>`;
}

/**
 * WS-Transfer Put (DSP0226 §7.5): `instance` (from instanceXml) replaces the whole resource, so
 * it carries every writable property, not only the changed ones.
 */
export function buildPut(request: WsmanRequest, instance: string): string {
  return envelope(ACTIONS.put, request, instance);
}

/** WS-Enumeration Enumerate, optimized so the first items come back at once (DSP0226 §8.2.3). */
export function buildEnumerate(request: WsmanRequest, maxElements: number): string {
  return envelope(ACTIONS.enumerate, request, `<n:Enumerate><w:OptimizeEnumeration/><w:MaxElements>${maxElements}</w:MaxElements></n:Enumerate>`);
}

/** WS-Enumeration Pull with the context an Enumerate or Pull returned (DSP0226 §8.4). */
export function buildPull(request: WsmanRequest, context: string, maxElements: number): string {
  return envelope(
    ACTIONS.pull,
    request,
    `<n:Pull><n:EnumerationContext>${escapeXml(context)}</n:EnumerationContext><n:MaxElements>${maxElements}</n:MaxElements></n:Pull>`,
  );
}

/** A custom method call: action `<resourceUri>/<method>`, body `<method>_INPUT` in the class namespace (DSP0226 §9, DSP0230). */
export function buildInvoke(request: WsmanRequest, method: string, parameters: readonly InvokeParameter[]): string {
  const params = parameters
    .map(({ name, value }) =>
      typeof value === 'string' ? `<p:${name}>${escapeXml(value)}</p:${name}>` : `<p:${name}>${endpointReferenceXml(value)}</p:${name}>`,
    )
    .join('');
  return envelope(`${request.resourceUri}/${method}`, request, `<p:${method}_INPUT xmlns:p="${escapeXml(request.resourceUri)}">${params}</p:${method}_INPUT>`);
}

/** Identify (DSP0226 §11): no addressing headers at all. */
export function buildIdentify(): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="${NS.soap12}" xmlns:wsmid="${NS.identity}">` +
    '<s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>'
  );
}

/** Reads a WS-Man answer: a SOAP 1.2 Fault (DSP0226 §14) or a body with its wsa:Action. Throws XmlError when not XML. */
export function parseAnswer(xml: string, maxChars = WSMAN_MAX_RESPONSE_CHARS): WsmanAnswer {
  const doc = parseXml(xml, maxChars);
  const body = soapBody(doc);
  const header = soapHeader(doc);
  const fault = child(body, 'Fault');
  if (fault !== undefined) {
    const code = child(fault, 'Code');
    const subcode = text(child(child(code, 'Subcode'), 'Value'));
    return {
      kind: 'fault',
      code: text(child(code, 'Value')) ?? 'unknown',
      subcode,
      reason: text(child(child(fault, 'Reason'), 'Text')) ?? '',
      detail: faultDetailText(child(fault, 'Detail')),
    };
  }
  return { kind: 'ok', action: text(child(header, 'Action')), body, header };
}

function faultDetailText(detail: XmlNode | undefined): string | undefined {
  if (detail === undefined) return undefined;
  const names = elementNames(detail);
  const first = names[0];
  return first === undefined ? text(detail) : text(child(detail, first));
}

/** The text properties of an instance element. */
export function instanceFrom(node: XmlNode | undefined): CimInstance {
  const out: Record<string, string | string[]> = {};
  if (node === undefined || typeof node === 'string') return out;
  for (const name of elementNames(node)) {
    const values = children(node, name);
    const texts = values.filter((v) => typeof v === 'string' || elementNames(v).length === 0).map((v) => text(v) ?? '');
    if (texts.length === 0) continue;
    out[name] = values.length > 1 ? texts : (texts[0] ?? '');
  }
  return out;
}

/** The instance in a Get answer's body: the body's single child named after the class. */
export function parseGetBody(body: XmlNode | undefined, className: string): CimInstance | undefined {
  const node = child(body, className);
  return node === undefined ? undefined : instanceFrom(node);
}

/**
 * The instance in a PutResponse: AMT returns the resource as it now is; DSP0226 §7.5 also allows
 * an empty body when the service kept the representation as sent (then undefined). Anything
 * else in the body is not a PutResponse for this class.
 */
export function parsePutBody(body: XmlNode | undefined, className: string): { instance: CimInstance | undefined } | undefined {
  const names = elementNames(body);
  if (names.length === 0) return { instance: undefined };
  const node = child(body, className);
  return node === undefined ? undefined : { instance: instanceFrom(node) };
}

export interface EnumerationPage {
  readonly items: CimInstance[];
  /** The context for the next Pull; undefined when the enumeration ended (EndOfSequence). */
  readonly context: string | undefined;
}

/** Items and context of an EnumerateResponse (optimized) or PullResponse (DSP0226 §8.2.3, §8.4). */
export function parseEnumerationBody(body: XmlNode | undefined, className: string): EnumerationPage {
  const response = child(body, 'EnumerateResponse') ?? child(body, 'PullResponse');
  if (response === undefined) return { items: [], context: undefined };
  const items = children(child(response, 'Items'), className).map(instanceFrom);
  const ended = child(response, 'EndOfSequence') !== undefined;
  const context = text(child(response, 'EnumerationContext'));
  return { items, context: ended || !context ? undefined : context };
}

/** ReturnValue and outputs of `<method>_OUTPUT`, or undefined when the body holds no such element. */
export function parseInvokeBody(body: XmlNode | undefined, method: string): { returnValue: number | undefined; outputs: CimInstance } | undefined {
  const output = child(body, `${method}_OUTPUT`);
  if (output === undefined) return undefined;
  return { returnValue: intValue(child(output, 'ReturnValue')), outputs: instanceFrom(output) };
}

/** ProductVendor, ProductVersion and ProtocolVersion of an IdentifyResponse (DSP0226 §11). */
export function parseIdentifyBody(body: XmlNode | undefined): { vendor: string; version: string; protocolVersion: string } | undefined {
  const response = child(body, 'IdentifyResponse');
  if (response === undefined) return undefined;
  return {
    vendor: text(child(response, 'ProductVendor')) ?? '',
    version: text(child(response, 'ProductVersion')) ?? '',
    protocolVersion: text(child(response, 'ProtocolVersion')) ?? '',
  };
}
