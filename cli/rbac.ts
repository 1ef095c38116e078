/**
 * `shadowscale rbac --config FILE`: the receiver's RoleBindings for the namespaces the configuration
 * names (core/rbac.ts), as YAML to pipe into `kubectl apply -f -`: what `npm run deploy:generate`
 * writes into deploy/, for those who run the image rather than a checkout.
 */
import { Command } from 'commander';
import { loadConfigFile } from './config-file.ts';

export function rbacCommand(): Command {
  return new Command('rbac')
    .description("print the receiver's RoleBindings for the namespaces of the configuration (pipe to kubectl apply -f -)")
    .requiredOption('--config <file>', 'the shadowscale YAML configuration')
    .option('--namespace <ns>', 'the namespace shadowscale runs in (its ServiceAccount)', 'shadowscale')
    .action(async (options: { config: string; namespace: string }) => {
      const config = loadConfigFile(options.config);
      const [{ receiverRoleBindings }, { stringify }] = await Promise.all([import('../core/rbac.ts'), import('yaml')]);
      process.stdout.write(receiverRoleBindings(config, options.namespace).map((b) => `---\n${stringify(b, { lineWidth: 0 })}`).join(''));
    });
}
