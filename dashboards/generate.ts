/** `npm run dashboards:generate`: writes dashboards/json/*.json. */
import { JSON_DIR, writeDashboards } from './index.ts';

for (const file of writeDashboards(process.argv[2] ?? JSON_DIR)) console.log(`wrote ${file}`);
