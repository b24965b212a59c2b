// lib/rules.js ruleContext, evaluateRules and featureAvailability against the Python originals
// (core/rules.py rule_context, evaluate_rules, feature_availability): same inputs, same outputs,
// same sentences, with the bundled catalogue and with the served one. No DOM needed.
//
// The documents below (DOCS, strict JSON between the markers) are the inputs; CATALOGUE (the
// fields of GET /api/catalogue that rules.js reads), BASE_CONTEXT, DEFAULT_AVAILABILITY and
// EXPECTED were printed by the Python functions, once, with this command from the repository root:
//
//   .venv/bin/python - <<'PY'
//   import asyncio, json, re
//   from cvsession.api.routes_identity import get_catalogue
//   from cvsession.core import catalogue as c, rules
//   src = open("tests/js/rules.test.mjs", encoding="utf-8").read()
//   docs = json.loads(re.search(r"/\*DOCS\*/(.*?)/\*END\*/", src, re.S).group(1))
//   cat = asyncio.run(get_catalogue())
//   keep = {"steps": ("id", "title", "substeps", "requires", "skippable"),
//           "features": ("id", "title", "dependencies", "requiresSteps", "premium"), "rules": None}
//   cat = {k: [x if keep[k] is None else {f: x[f] for f in keep[k]} for x in cat[k]] for k in keep}
//   base = rules.rule_context(docs["fresh"])
//   default = rules.feature_availability(docs["fresh"], "contact-form").to_json()
//   out = {}
//   for name, doc in docs.items():
//       ctx = rules.rule_context(doc)
//       avail = {f: rules.feature_availability(doc, f).to_json() for f in c.FEATURE_IDS}
//       out[name] = {"contextDelta": {k: v for k, v in ctx.items() if base[k] != v or type(base[k]) is not type(v)},
//                    "effects": rules.evaluate_rules(doc).to_json(),
//                    "availability": {f: a for f, a in avail.items() if a != default}}
//   print("const CATALOGUE =", json.dumps(cat, separators=(",", ":")) + ";")
//   print("const BASE_CONTEXT =", json.dumps(base, separators=(",", ":")) + ";")
//   print("const DEFAULT_AVAILABILITY =", json.dumps(default, separators=(",", ":")) + ";")
//   print("const EXPECTED = {")
//   for name, e in out.items():
//       rows = ",\n".join(f"   {json.dumps(f)}: {json.dumps(a)}" for f, a in e["availability"].items())
//       print(f' {json.dumps(name)}: {{\n  "contextDelta": {json.dumps(e["contextDelta"])},\n'
//             f'  "effects": {json.dumps(e["effects"])},\n  "availability": {{\n{rows}\n  }},\n }},')
//   print("};")
//   PY
//
// Features absent from EXPECTED[doc].availability have DEFAULT_AVAILABILITY (all allowed, no
// reasons); EXPECTED[doc].contextDelta lists the context fields that differ from BASE_CONTEXT.
// The documents exercise: code-point ordering of sortKeys (U+FFFF before an emoji), Python's
// notion of blank (U+001C, U+2003), duplicate reasons, invalid actions/targets/conditions failing
// closed, a required-and-disabled contradiction, and malformed sub-records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CATALOGUE as BUNDLED, evaluateRules, featureAvailability, ruleContext }
  from '../../src/cvsession/web/lib/rules.js';

const DOCS = /*DOCS*/{
 "fresh": {"status": "draft", "currentStep": "upload", "currentSubstep": "file-select", "completedSteps": [],
   "quickCreate": false, "steps": {}, "features": {}, "rules": {}, "template": {"selected": null, "customizations": {}},
   "ui": {}, "cv": null, "target": {"role": "", "jobDescription": "", "instructions": ""}},
 "analysed": {"status": "in_progress", "currentStep": "features", "completedSteps": ["upload", "processing", "analysis"],
   "quickCreate": true,
   "steps": {"upload": {"status": "completed"}, "processing": {"status": "completed"}, "analysis": {"status": "completed"},
     "features": {"status": "in_progress", "substeps": {"features-select": {"status": "completed"}}}},
   "features": {"ats-optimization": {"enabled": true}, "skills-visualization": {"enabled": true, "progress": "configured"},
     "skills-chart": {"enabled": true}, "contact-form": {"enabled": true}},
   "template": {"selected": "modern"}, "ui": {"sharePublic": true},
   "cv": {"basics": {"name": "Ada", "email": "ada@example.com", "phone": "\u001c "},
     "skills": [{"name": "Python"}, {"name": "SQL"}], "languages": [{"language": "French"}],
     "certificates": [{"name": "AWS"}], "work": [{}, {}], "education": [{}]},
   "target": {"role": "Engineer", "jobDescription": "Senior Python developer"}},
 "withRules": {"status": "in_progress", "completedSteps": ["upload", "processing", "analysis"],
   "steps": {"analysis": {"status": "completed"}, "features": {"substeps": {"features-select": {"status": "completed"}}}},
   "features": {"ats-optimization": {"enabled": true}, "skills-visualization": {"enabled": true},
     "skills-chart": {"enabled": true}, "contact-form": {"enabled": true}},
   "template": {"selected": "creative"}, "ui": {"sharePublic": true},
   "cv": {"basics": {"email": "ada@example.com", "phone": "\u001c "}, "skills": [{}, {}], "languages": [{}], "certificates": [{}]},
   "target": {"jobDescription": "Senior Python developer"},
   "rules": {
     "r-b": {"when": {"==": [{"var": "template.selected"}, "creative"]}, "action": "recommend", "target": "portfolio-gallery", "reason": "Creative templates show portfolios."},
     "r-a": {"when": true, "action": "disable", "target": "privacy-mode", "reason": ""},
     "r-c": {"when": {"in": ["Python", {"var": "target.jobDescription"}]}, "action": "enable", "target": "generate-podcast", "reason": " \u2003", "sortKey": "0"},
     "r-d": {"when": true, "action": "explode", "target": "contact-form", "reason": "x"},
     "r-e": {"when": true, "action": "enable", "target": "nope", "reason": "x"},
     "r-f": {"when": {"eval": ["x"]}, "action": "disable", "target": "contact-form", "reason": "never"},
     "r-g": {"when": {">=": [{"var": "cv.skillCount"}, 2]}, "action": "disable", "target": "skills-chart", "reason": "Charts need at least three skills.", "sortKey": 5},
     "r-h": {"when": {"var": "cv.hasEmail"}, "action": "recommend", "target": "language-proficiency", "reason": "Your CV lists languages."},
     "r-i": {"when": {"var": "features.ats-optimization.enabled"}, "action": "require", "target": "ats-optimization", "reason": "Keep ATS on."},
     "r-j": "oops",
     "r-k": {"action": "require", "target": "contact-form", "reason": "no condition"},
     "r-l": {"when": {"<": [{"var": "progress"}, "50"]}, "action": "disable", "target": "contact-form", "reason": "type error"},
     "r-m": {"when": {"!": {"var": "cv.hasPhone"}}, "action": "recommend", "target": "contact-form", "reason": "Your CV has no phone number.", "sortKey": "\ud83d\ude00"},
     "r-n": {"when": {"==": [{"var": "steps.features.completion"}, 33]}, "action": "recommend", "target": "contact-form", "reason": "A third of the way.", "sortKey": "\uffff"},
     "r-o": {"when": {"var": "features.nope.enabled"}, "action": "disable", "target": "contact-form", "reason": "unknown field"},
     "r-p": {"when": {"==": [{"var": "cv.workCount"}, false]}, "action": "disable", "target": "contact-form", "reason": "0 is not false"}
   }},
 "sparse": {"completedSteps": ["analysis"],
   "steps": {"upload": "x", "features": {"substeps": {"features-select": {"status": "skipped"}, "features-configure": "y"}}},
   "cv": {"skills": "notalist", "basics": {"email": "  "}},
   "features": {"keyword-enhancement": "garbage", "achievement-highlighting": {"enabled": 1},
     "contact-form": {"enabled": true, "progress": "configured"}, "availability-calendar": {"enabled": true}},
   "template": "x", "target": {"role": null}}
}/*END*/;

const CATALOGUE = {"steps":[{"id":"upload","title":"Upload your CV","substeps":["file-select","file-validate","file-upload"],"requires":[],"skippable":false},{"id":"processing","title":"Processing","substeps":["text-extract","ai-analysis","structure-parse"],"requires":["upload"],"skippable":false},{"id":"analysis","title":"Analysis","substeps":["content-analyze","improvements-identify","keywords-extract"],"requires":["upload","processing"],"skippable":false},{"id":"features","title":"Features","substeps":["features-select","features-configure","features-validate"],"requires":["analysis"],"skippable":false},{"id":"templates","title":"Templates","substeps":["template-select","template-customize","template-preview"],"requires":["analysis"],"skippable":false},{"id":"preview","title":"Preview","substeps":["cv-generate","cv-review","cv-approve"],"requires":["analysis","features","templates"],"skippable":false},{"id":"results","title":"Results","substeps":["results-display","results-download","results-share"],"requires":["preview"],"skippable":false},{"id":"keywords","title":"Keywords","substeps":["keywords-review","keywords-optimize","keywords-apply"],"requires":["analysis"],"skippable":true},{"id":"completed","title":"Completed","substeps":["completion-confirm"],"requires":["results"],"skippable":false}],"features":[{"id":"ats-optimization","title":"ATS optimisation","dependencies":[],"requiresSteps":["analysis"],"premium":false},{"id":"keyword-enhancement","title":"Keyword enhancement","dependencies":["ats-optimization"],"requiresSteps":["analysis"],"premium":false},{"id":"achievement-highlighting","title":"Achievement highlighting","dependencies":[],"requiresSteps":["analysis"],"premium":false},{"id":"skills-visualization","title":"Skills visualisation","dependencies":[],"requiresSteps":["analysis"],"premium":false},{"id":"generate-podcast","title":"Career podcast","dependencies":[],"requiresSteps":["analysis"],"premium":true},{"id":"privacy-mode","title":"Privacy mode","dependencies":[],"requiresSteps":[],"premium":false},{"id":"embed-qr-code","title":"QR code","dependencies":[],"requiresSteps":[],"premium":false},{"id":"interactive-timeline","title":"Interactive timeline","dependencies":[],"requiresSteps":["analysis"],"premium":false},{"id":"skills-chart","title":"Skills chart","dependencies":["skills-visualization"],"requiresSteps":["analysis"],"premium":false},{"id":"video-introduction","title":"Video introduction","dependencies":[],"requiresSteps":[],"premium":true},{"id":"portfolio-gallery","title":"Portfolio gallery","dependencies":[],"requiresSteps":[],"premium":true},{"id":"testimonials-carousel","title":"Testimonials","dependencies":[],"requiresSteps":[],"premium":true},{"id":"contact-form","title":"Contact form","dependencies":[],"requiresSteps":[],"premium":false},{"id":"social-media-links","title":"Social media links","dependencies":[],"requiresSteps":[],"premium":false},{"id":"availability-calendar","title":"Availability calendar","dependencies":["contact-form"],"requiresSteps":[],"premium":true},{"id":"language-proficiency","title":"Language proficiency","dependencies":[],"requiresSteps":["analysis"],"premium":false},{"id":"certification-badges","title":"Certification badges","dependencies":[],"requiresSteps":["analysis"],"premium":false},{"id":"achievements-showcase","title":"Achievements showcase","dependencies":["achievement-highlighting"],"requiresSteps":["analysis"],"premium":false}],"rules":[{"id":"skills-chart-needs-skills","when":{"<":[{"var":"cv.skillCount"},1]},"action":"disable","target":"skills-visualization","reason":"Your CV lists no skills to chart."},{"id":"languages-recommended","when":{">":[{"var":"cv.languageCount"},0]},"action":"recommend","target":"language-proficiency","reason":"Your CV lists languages."},{"id":"keywords-with-job-description","when":{"!=":[{"var":"target.jobDescription"},""]},"action":"recommend","target":"keyword-enhancement","reason":"You gave a job description to match."},{"id":"certificates-recommended","when":{">":[{"var":"cv.certificateCount"},0]},"action":"recommend","target":"certification-badges","reason":"Your CV lists certificates."},{"id":"privacy-for-public-share","when":{"==":[{"var":"ui.sharePublic"},true]},"action":"require","target":"privacy-mode","reason":"A public share link hides personal details."}]};
const BASE_CONTEXT = {"status":"draft","currentStep":"upload","completedSteps":[],"quickCreate":false,"progress":0,"template.selected":null,"target.role":"","target.jobDescription":"","ui.sharePublic":false,"cv.hasEmail":false,"cv.hasPhone":false,"cv.skillCount":0,"cv.languageCount":0,"cv.certificateCount":0,"cv.workCount":0,"cv.educationCount":0,"features.ats-optimization.enabled":false,"features.ats-optimization.progress":null,"features.keyword-enhancement.enabled":false,"features.keyword-enhancement.progress":null,"features.achievement-highlighting.enabled":false,"features.achievement-highlighting.progress":null,"features.skills-visualization.enabled":false,"features.skills-visualization.progress":null,"features.generate-podcast.enabled":false,"features.generate-podcast.progress":null,"features.privacy-mode.enabled":false,"features.privacy-mode.progress":null,"features.embed-qr-code.enabled":false,"features.embed-qr-code.progress":null,"features.interactive-timeline.enabled":false,"features.interactive-timeline.progress":null,"features.skills-chart.enabled":false,"features.skills-chart.progress":null,"features.video-introduction.enabled":false,"features.video-introduction.progress":null,"features.portfolio-gallery.enabled":false,"features.portfolio-gallery.progress":null,"features.testimonials-carousel.enabled":false,"features.testimonials-carousel.progress":null,"features.contact-form.enabled":false,"features.contact-form.progress":null,"features.social-media-links.enabled":false,"features.social-media-links.progress":null,"features.availability-calendar.enabled":false,"features.availability-calendar.progress":null,"features.language-proficiency.enabled":false,"features.language-proficiency.progress":null,"features.certification-badges.enabled":false,"features.certification-badges.progress":null,"features.achievements-showcase.enabled":false,"features.achievements-showcase.progress":null,"steps.upload.status":"pending","steps.upload.completion":0,"steps.processing.status":"pending","steps.processing.completion":0,"steps.analysis.status":"pending","steps.analysis.completion":0,"steps.features.status":"pending","steps.features.completion":0,"steps.templates.status":"pending","steps.templates.completion":0,"steps.preview.status":"pending","steps.preview.completion":0,"steps.results.status":"pending","steps.results.completion":0,"steps.keywords.status":"pending","steps.keywords.completion":0,"steps.completed.status":"pending","steps.completed.completion":0};
const DEFAULT_AVAILABILITY = {"canEnable":true,"reasons":[],"recommendedReasons":[],"requiredReasons":[],"canDisable":true,"disableReasons":[]};
const EXPECTED = {
 "fresh": {
  "contextDelta": {},
  "effects": {"enabled": {}, "disabled": {"skills-visualization": ["Your CV lists no skills to chart."]}, "required": {}, "recommended": {}, "contradictions": []},
  "availability": {
   "ats-optimization": {"canEnable": false, "reasons": ["ATS optimisation needs the Analysis step to be completed first."], "recommendedReasons": [], "requiredReasons": [], "canDisable": true, "disableReasons": []},
   "keyword-enhancement": {"canEnable": false, "reasons": ["Keyword enhancement needs ATS optimisation to be enabled first.", "Keyword enhancement needs the Analysis step to be completed first."], "recommendedReasons": [], "requiredReasons": [], "canDisable": true, "disableReasons": []},
   "achievement-highlighting": {"canEnable": false, "reasons": ["Achievement highlighting needs the Analysis step to be completed first."], "recommendedReasons": [], "requiredReasons": [], "canDisable": true, "disableReasons": []},
   "skills-visualization": {"canEnable": false, "reasons": ["Skills visualisation needs the Analysis step to be completed first.", "Your CV lists no skills to chart."], "recommendedReasons": [], "requiredReasons": [], "canDisable": true, "disableReasons": []},
   "generate-podcast": {"canEnable": false, "reasons": ["Career podcast needs the Analysis step to be completed first."], "recommendedReasons": [], "requiredReasons": [], "canDisable": true, "disableReasons": []},
   "interactive-timeline": {"canEnable": false, "reasons": ["Interactive timeline needs the Analysis step to be completed first."], "recommendedReasons": [], "requiredReasons": [], "canDisable": true, "disableReasons": []},
   "skills-chart": {"canEnable": false, "reasons": ["Skills chart needs Skills visualisation to be enabled first.", "Skills chart needs the Analysis step to be completed first."], "recommendedReasons": [], "requiredReasons": [], "canDisable": true, "disableReasons": []},
   "availability-calendar": {"canEnable": false, "reasons": ["Availability calendar needs Contact form to be enabled first."], "recommendedReasons": [], "requiredReasons": [], "canDisable": true, "disableReasons": []},
   "language-proficiency": {"canEnable": false, "reasons": ["Language proficiency needs the Analysis step to be completed first."], "recommendedReasons": [], "requiredReasons": [], "canDisable": true, "disableReasons": []},
   "certification-badges": {"canEnable": false, "reasons": ["Certification badges needs the Analysis step to be completed first."], "recommendedReasons": [], "requiredReasons": [], "canDisable": true, "disableReasons": []},
   "achievements-showcase": {"canEnable": false, "reasons": ["Achievements showcase needs Achievement highlighting to be enabled first.", "Achievements showcase needs the Analysis step to be completed first."], "recommendedReasons": [], "requiredReasons": [], "canDisable": true, "disableReasons": []}
  },
 },
 "analysed": {
  "contextDelta": {"status": "in_progress", "currentStep": "features", "completedSteps": ["upload", "processing", "analysis"], "quickCreate": true, "progress": 37, "template.selected": "modern", "target.role": "Engineer", "target.jobDescription": "Senior Python developer", "ui.sharePublic": true, "cv.hasEmail": true, "cv.skillCount": 2, "cv.languageCount": 1, "cv.certificateCount": 1, "cv.workCount": 2, "cv.educationCount": 1, "features.ats-optimization.enabled": true, "features.skills-visualization.enabled": true, "features.skills-visualization.progress": "configured", "features.skills-chart.enabled": true, "features.contact-form.enabled": true, "steps.upload.status": "completed", "steps.upload.completion": 100, "steps.processing.status": "completed", "steps.processing.completion": 100, "steps.analysis.status": "completed", "steps.analysis.completion": 100, "steps.features.status": "in_progress", "steps.features.completion": 33},
  "effects": {"enabled": {}, "disabled": {}, "required": {"privacy-mode": ["A public share link hides personal details."]}, "recommended": {"language-proficiency": ["Your CV lists languages."], "keyword-enhancement": ["You gave a job description to match."], "certification-badges": ["Your CV lists certificates."]}, "contradictions": []},
  "availability": {
   "keyword-enhancement": {"canEnable": true, "reasons": [], "recommendedReasons": ["You gave a job description to match."], "requiredReasons": [], "canDisable": true, "disableReasons": []},
   "skills-visualization": {"canEnable": true, "reasons": [], "recommendedReasons": [], "requiredReasons": [], "canDisable": false, "disableReasons": ["Skills chart needs Skills visualisation; turn it off first."]},
   "privacy-mode": {"canEnable": true, "reasons": [], "recommendedReasons": [], "requiredReasons": ["A public share link hides personal details."], "canDisable": false, "disableReasons": ["A public share link hides personal details."]},
   "language-proficiency": {"canEnable": true, "reasons": [], "recommendedReasons": ["Your CV lists languages."], "requiredReasons": [], "canDisable": true, "disableReasons": []},
   "certification-badges": {"canEnable": true, "reasons": [], "recommendedReasons": ["Your CV lists certificates."], "requiredReasons": [], "canDisable": true, "disableReasons": []},
   "achievements-showcase": {"canEnable": false, "reasons": ["Achievements showcase needs Achievement highlighting to be enabled first."], "recommendedReasons": [], "requiredReasons": [], "canDisable": true, "disableReasons": []}
  },
 },
 "withRules": {
  "contextDelta": {"status": "in_progress", "currentStep": null, "completedSteps": ["upload", "processing", "analysis"], "progress": 14, "template.selected": "creative", "target.jobDescription": "Senior Python developer", "ui.sharePublic": true, "cv.hasEmail": true, "cv.skillCount": 2, "cv.languageCount": 1, "cv.certificateCount": 1, "features.ats-optimization.enabled": true, "features.skills-visualization.enabled": true, "features.skills-chart.enabled": true, "features.contact-form.enabled": true, "steps.analysis.status": "completed", "steps.analysis.completion": 100, "steps.features.completion": 33},
  "effects": {"enabled": {"generate-podcast": ["A rule set for this session (r-c)."]}, "disabled": {"privacy-mode": ["A rule set for this session (r-a)."], "skills-chart": ["Charts need at least three skills."]}, "required": {"ats-optimization": ["Keep ATS on."]}, "recommended": {"language-proficiency": ["Your CV lists languages."], "keyword-enhancement": ["You gave a job description to match."], "certification-badges": ["Your CV lists certificates."], "portfolio-gallery": ["Creative templates show portfolios."], "contact-form": ["A third of the way.", "Your CV has no phone number."]}, "contradictions": ["privacy-mode"]},
  "availability": {
   "ats-optimization": {"canEnable": true, "reasons": [], "recommendedReasons": [], "requiredReasons": ["Keep ATS on."], "canDisable": false, "disableReasons": ["Keep ATS on."]},
   "keyword-enhancement": {"canEnable": true, "reasons": [], "recommendedReasons": ["You gave a job description to match."], "requiredReasons": [], "canDisable": true, "disableReasons": []},
   "skills-visualization": {"canEnable": true, "reasons": [], "recommendedReasons": [], "requiredReasons": [], "canDisable": false, "disableReasons": ["Skills chart needs Skills visualisation; turn it off first."]},
   "privacy-mode": {"canEnable": false, "reasons": ["A rule set for this session (r-a)."], "recommendedReasons": [], "requiredReasons": [], "canDisable": true, "disableReasons": []},
   "skills-chart": {"canEnable": false, "reasons": ["Charts need at least three skills."], "recommendedReasons": [], "requiredReasons": [], "canDisable": true, "disableReasons": []},
   "portfolio-gallery": {"canEnable": true, "reasons": [], "recommendedReasons": ["Creative templates show portfolios."], "requiredReasons": [], "canDisable": true, "disableReasons": []},
   "contact-form": {"canEnable": true, "reasons": [], "recommendedReasons": ["A third of the way.", "Your CV has no phone number."], "requiredReasons": [], "canDisable": true, "disableReasons": []},
   "language-proficiency": {"canEnable": true, "reasons": [], "recommendedReasons": ["Your CV lists languages."], "requiredReasons": [], "canDisable": true, "disableReasons": []},
   "certification-badges": {"canEnable": true, "reasons": [], "recommendedReasons": ["Your CV lists certificates."], "requiredReasons": [], "canDisable": true, "disableReasons": []},
   "achievements-showcase": {"canEnable": false, "reasons": ["Achievements showcase needs Achievement highlighting to be enabled first."], "recommendedReasons": [], "requiredReasons": [], "canDisable": true, "disableReasons": []}
  },
 },
 "sparse": {
  "contextDelta": {"status": null, "currentStep": null, "completedSteps": ["analysis"], "progress": 3, "target.role": null, "features.contact-form.enabled": true, "features.contact-form.progress": "configured", "features.availability-calendar.enabled": true, "steps.features.completion": 33},
  "effects": {"enabled": {}, "disabled": {"skills-visualization": ["Your CV lists no skills to chart."]}, "required": {}, "recommended": {}, "contradictions": []},
  "availability": {
   "keyword-enhancement": {"canEnable": false, "reasons": ["Keyword enhancement needs ATS optimisation to be enabled first."], "recommendedReasons": [], "requiredReasons": [], "canDisable": true, "disableReasons": []},
   "skills-visualization": {"canEnable": false, "reasons": ["Your CV lists no skills to chart."], "recommendedReasons": [], "requiredReasons": [], "canDisable": true, "disableReasons": []},
   "skills-chart": {"canEnable": false, "reasons": ["Skills chart needs Skills visualisation to be enabled first."], "recommendedReasons": [], "requiredReasons": [], "canDisable": true, "disableReasons": []},
   "contact-form": {"canEnable": true, "reasons": [], "recommendedReasons": [], "requiredReasons": [], "canDisable": false, "disableReasons": ["Availability calendar needs Contact form; turn it off first."]},
   "achievements-showcase": {"canEnable": false, "reasons": ["Achievements showcase needs Achievement highlighting to be enabled first."], "recommendedReasons": [], "requiredReasons": [], "canDisable": true, "disableReasons": []}
  },
 },
};

// The catalogue as app.js holds it: the served lists plus lookup maps.
const INDEXED = {
  ...CATALOGUE,
  stepsById: Object.fromEntries(CATALOGUE.steps.map((s) => [s.id, s])),
  featuresById: Object.fromEntries(CATALOGUE.features.map((f) => [f.id, f])),
};
const FEATURE_IDS = CATALOGUE.features.map((f) => f.id);
const clone = (v) => JSON.parse(JSON.stringify(v));
// Each catalogue the functions may be given: the bundled default (argument omitted), the served
// one as app.js holds it, and the served one without lookup maps.
const CATALOGUES = { bundled: undefined, served: INDEXED, 'served without lookup maps': CATALOGUE };

test('fixtures cover every document', () => {
  assert.deepEqual(Object.keys(EXPECTED), Object.keys(DOCS));
});

test('the bundled catalogue has the served one\'s steps, features and rules', () => {
  const pick = (list, keys) => clone(list.map((x) => Object.fromEntries(keys.map((k) => [k, x[k]]))));
  const stepKeys = ['id', 'title', 'substeps', 'requires', 'skippable'];
  const featureKeys = ['id', 'title', 'dependencies', 'requiresSteps'];
  assert.deepEqual(pick(BUNDLED.steps, stepKeys), pick(CATALOGUE.steps, stepKeys));
  assert.deepEqual(pick(BUNDLED.features, featureKeys), pick(CATALOGUE.features, featureKeys));
  assert.deepEqual(clone(BUNDLED.rules), CATALOGUE.rules);
});

for (const [name, doc] of Object.entries(DOCS)) {
  const want = EXPECTED[name];

  for (const [label, cat] of Object.entries(CATALOGUES)) {
    test(`${name} (${label} catalogue): ruleContext matches rules.rule_context`, () => {
      assert.deepEqual(ruleContext(doc, cat), { ...BASE_CONTEXT, ...want.contextDelta });
    });

    test(`${name} (${label} catalogue): evaluateRules matches rules.evaluate_rules`, () => {
      assert.deepEqual(evaluateRules(doc, cat), want.effects);
    });

    test(`${name} (${label} catalogue): featureAvailability matches rules.feature_availability for every feature`, () => {
      for (const fid of FEATURE_IDS) {
        assert.deepEqual(featureAvailability(doc, fid, cat), want.availability[fid] ?? DEFAULT_AVAILABILITY, fid);
      }
    });

    test(`${name} (${label} catalogue): precomputed effects give the same answers`, () => {
      const effects = evaluateRules(doc, cat);
      assert.deepEqual(effects, want.effects);
      for (const fid of FEATURE_IDS) {
        assert.deepEqual(featureAvailability(doc, fid, cat, effects), want.availability[fid] ?? DEFAULT_AVAILABILITY, fid);
      }
    });
  }

  test(`${name}: the document is not modified`, () => {
    const before = clone(doc);
    ruleContext(doc, INDEXED);
    evaluateRules(doc, INDEXED);
    for (const fid of FEATURE_IDS) featureAvailability(doc, fid, INDEXED);
    ruleContext(doc);
    evaluateRules(doc);
    for (const fid of FEATURE_IDS) featureAvailability(doc, fid);
    assert.deepEqual(doc, before);
  });
}

test('session rules sort by code point, as Python does, not by UTF-16 unit', () => {
  assert.deepEqual(evaluateRules(DOCS.withRules, INDEXED).recommended['contact-form'], ['A third of the way.', 'Your CV has no phone number.']);
});

test('blank means blank to Python: U+001C is, U+FEFF is not', () => {
  const phone = (p) => ruleContext({ cv: { basics: { phone: p } } })['cv.hasPhone'];
  assert.equal(phone('\u001c \u0085\u2003'), false);
  assert.equal(phone('\ufeff'), true);
  const reason = (r) => evaluateRules({ rules: { r: { when: true, action: 'enable', target: 'contact-form', reason: r } } }).enabled['contact-form'];
  assert.deepEqual(reason('\u001f'), ['A rule set for this session (r).']);
  assert.deepEqual(reason('\ufeff'), ['\ufeff']);
});

test('a feature both required and disabled is a contradiction and is treated as disabled', () => {
  const effects = evaluateRules(DOCS.withRules, INDEXED);
  assert.deepEqual(effects.contradictions, ['privacy-mode']);
  assert.equal(effects.required['privacy-mode'], undefined);
  assert.equal(featureAvailability(DOCS.withRules, 'privacy-mode', INDEXED).canEnable, false);
});

test('an unknown feature id throws', () => {
  for (const cat of Object.values(CATALOGUES)) {
    assert.throws(() => featureAvailability(DOCS.fresh, 'nope', cat), /unknown feature "nope"/);
    assert.throws(() => featureAvailability(DOCS.fresh, 'constructor', cat), /unknown feature/);
  }
});

test('a missing or empty document gives the fresh answers', () => {
  for (const cat of Object.values(CATALOGUES)) {
    assert.deepEqual(evaluateRules(null, cat), EXPECTED.fresh.effects);
    assert.equal(ruleContext({}, cat)['target.role'], '');
  }
});

test('the catalogue passed is the one read: its features, steps, titles and rules', () => {
  const served = {
    steps: [{ id: 'analysis', title: 'Review', substeps: ['only'] }],
    features: [
      { id: 'contact-form', title: 'Contact' },
      { id: 'availability-calendar', title: 'Calendar', dependencies: ['contact-form'], requiresSteps: ['analysis'] },
    ],
    rules: [{ id: 'x', when: { '==': [{ var: 'steps.analysis.completion' }, 100] }, action: 'recommend', target: 'contact-form', reason: 'Done.' }],
  };
  const doc = { steps: { analysis: { substeps: { only: { status: 'skipped' } } } },
    rules: { s: { when: true, action: 'enable', target: 'privacy-mode', reason: 'not in this catalogue' } } };
  const ctx = ruleContext(doc, served);
  assert.deepEqual(Object.keys(ctx).filter((k) => /^(features|steps)\./.test(k)), [
    'features.contact-form.enabled', 'features.contact-form.progress', 'features.availability-calendar.enabled',
    'features.availability-calendar.progress', 'steps.analysis.status', 'steps.analysis.completion']);
  assert.equal(ctx.progress, 100);
  assert.deepEqual(evaluateRules(doc, served), { enabled: {}, disabled: {}, required: {}, recommended: { 'contact-form': ['Done.'] }, contradictions: [] });
  assert.deepEqual(featureAvailability(doc, 'availability-calendar', served).reasons, [
    'Calendar needs Contact to be enabled first.', 'Calendar needs the Review step to be completed first.']);
  assert.throws(() => featureAvailability(doc, 'privacy-mode', served), /unknown feature/);
  assert.deepEqual(evaluateRules(doc).enabled, { 'privacy-mode': ['not in this catalogue'] });
});
