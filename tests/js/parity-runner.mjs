// Helper of tests/unit/test_js_parity.py (not a test file itself): reads a JSON batch on stdin,
// runs the browser predictors and rule evaluator on it, writes the results as JSON on stdout.
import { readFileSync } from 'node:fs';
import * as catalogue from '../../src/cvsession/web/lib/catalogue.js';
import { predict } from '../../src/cvsession/web/lib/predict.js';
import { evaluate, evaluateRules, featureAvailability, ruleContext, validateCondition, validateRule }
  from '../../src/cvsession/web/lib/rules.js';

const batch = JSON.parse(readFileSync(0, 'utf8'));
const out = {};
out.predict = (batch.predict ?? []).map(({ doc, name, args, now }) => {
  try {
    return { ok: true, doc: predict(doc, name, args, new Date(now)) };
  } catch (err) {
    return { ok: false, code: err.code ?? err.name, message: err.message };
  }
});
out.evaluate = (batch.evaluate ?? []).map(({ ast, ctx }) => evaluate(ast, ctx));
out.validate = (batch.validate ?? []).map(({ ast }) => validateCondition(ast));
out.validateRule = (batch.validateRule ?? []).map(({ rule }) => validateRule(rule));
out.evaluateRules = (batch.evaluateRules ?? []).map(({ doc }) => evaluateRules(doc));
out.ruleContext = (batch.ruleContext ?? []).map(({ doc }) => ruleContext(doc));
out.availability = (batch.availability ?? []).map(({ doc, feature }) => featureAvailability(doc, feature));
out.catalogue = {
  steps: catalogue.STEPS,
  features: catalogue.FEATURE_LIST,
  templates: catalogue.TEMPLATE_IDS,
  rules: catalogue.RULES,
  sessionTransitions: Object.fromEntries([...catalogue.SESSION_TRANSITIONS].map(([k, v]) => [k, [...v].sort()])),
  stepTransitions: Object.fromEntries([...catalogue.STEP_TRANSITIONS].map(([k, v]) => [k, [...v].sort()])),
  substepTransitions: Object.fromEntries([...catalogue.SUBSTEP_TRANSITIONS].map(([k, v]) => [k, [...v].sort()])),
};
process.stdout.write(JSON.stringify(out));
