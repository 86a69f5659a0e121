// Schemas every /api/v1 route module shares: the error body and the machine path parameter.
import { Type } from 'typebox';

export const ErrorBody = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String() }) });
/** The answers any route may give besides its own. */
export const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 503: ErrorBody };
export const NameParams = Type.Object({ name: Type.String({ description: 'machine name or one of its MACs' }) });
