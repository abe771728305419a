import { startModernCustomers } from '../../../sample/modern-customers/server.ts';
import { announce } from './ready.ts';

const s = await startModernCustomers();
announce(s.url);
