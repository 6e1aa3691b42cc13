// The rule language's public surface, for the daemon, replay, the alert engine and the compiler.

export { loadRules, loadRuleTexts, expandRulePaths, isTestFile, formatDiag } from './loader/index.js';
export type { RuleSet, SourceFile, Diagnostic, LoadedRule, LoadedMacro, LoadedList } from './loader/index.js';
export { Matcher, falcoEventType, type RuleMatching, type MatcherOptions } from './eval/match.js';
export { Evaluation, evaluate, evaluateCondition } from './eval/evaluate.js';
export { renderOutput, outputFields, parseOutput, type OutputFieldValue } from './output.js';
export { parseCondition, ConditionSyntaxError } from './condition/parser.js';
export { printCondition } from './condition/printer.js';
export { printTyped } from './condition/typed-print.js';
export { FIELDS, lookupField, EVENT_ARGS } from './fields/catalog.js';
export { eventTypesOf, planHooks, type EvtSet, type HookPlan } from './fields/evttypes.js';
export type { FieldDef, FieldType, Hook } from './fields/types.js';
export { PRIORITIES, parsePriority, priorityLabel, atLeast, type Priority } from './priority.js';
export { parseTestFile, runCase, type TestCase, type CaseResult } from './testing/runner.js';
