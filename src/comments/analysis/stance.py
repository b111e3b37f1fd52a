"""Stance toward the proposed action: support, oppose, mixed or unclear (and `not read`).

Method: hand-written cue patterns applied sentence by sentence, with negation
and scope handling. Rules are the default because they run offline, need no
labels, and every decision comes with a verbatim span a reader can check. A
docket with analyst labels gets a per-docket model on top
(`comments.analysis.stance_model`); a docket's codebook can add its own cue
phrases (`extra_cues`).

How a text is scored:
- Each sentence is matched against SUPPORT and OPPOSE cue patterns, each with a
  weight (an explicit "we support the creation of" outweighs "would be helpful").
- Scope: a cue counts only when it is about the proposal. "support(s)" needs a
  person or organization as its subject or the proposal as its object ("this
  data supports a real-world evaluation" and "evidence supports the BFCC-QIO"
  are plain verbs, not stance); cues about the comment itself ("I support this
  comment") and politeness ("thank you for the opportunity") never count.
- A negator ("not", "no", "never", "cannot" ...) within five words before a cue,
  in the same clause, flips it ("do not support", "cannot in good conscience
  endorse" -> oppose; "not a bad idea" -> support). Cues that already contain
  their negation ("do not pass") are not flipped again; idioms such as "no
  doubt" and "not only" are not negations.
- Imperatives and requests: "do not pass/adopt/allow", "withdraw", "reject",
  "urge ... to keep/preserve" and requests that the agency change course
  ("reconsider", "back to the drawing board", "instead of creating") are
  oppose; requests that it go ahead ("please proceed", "urge CMS to finalize",
  "reinstate ...") are support. This is a prior: on a docket whose proposal is
  itself a rollback, "reinstate" can mean the opposite, which is what a
  docket's codebook (`extra_cues`) and analyst labels are for.
- RFI suggestions without an evaluative cue stay `unclear`.
- Both sides with comparable weight -> `mixed`; one side -> that side; neither
  -> `unclear`. Confidence grows with the winning weight and margin.

The evidence is the verbatim sentence that carried the most weight (an exact
substring of the input text). `not read` is decided upstream (the text was
never available), never by these rules: see `NOT_READ`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

STANCES = ("support", "oppose", "mixed", "unclear")
# A comment whose substance is in an attachment whose text was not (yet)
# extracted: nobody read it, so it takes no side we know of. Never `unclear`.
NOT_READ = "not read"
# Every stance a comment can carry in the analysis tables and reports, in display order.
ALL_STANCES = (*STANCES, NOT_READ)


@dataclass(frozen=True)
class Stance:
    stance: str
    confidence: float
    evidence: str | None  # verbatim substring of the text that decided it
    support_score: float = 0.0
    oppose_score: float = 0.0


# Words that make "support" a plain verb when they are its subject ("this data supports ...").
_NON_AGENTS = (
    "data|evidence|research|study|studies|literature|information|it|this|that|which|what|system|systems|"
    "technology|technologies|tool|tools|platform|platforms|product|products|solution|solutions|approach|"
    "framework|model|models|standard|standards|api|apis|fhir|infrastructure|directory|database|process|"
    "program|service|services|feature|features|capability|capabilities|function|functionality|software|"
    "app|apps|application|applications|architecture|network|networks|registry|record|records|that also|"
    "experience|findings|results|analysis|review|survey|trial|trials|pilot|design|structure|which also"
)
# What a proposal is called: "support the creation of", "supports this proposal", "support waiver reform".
_PROPOSAL = (
    r"(?:proposals?|proposed|rules?|rulemaking|regulations?|initiatives?|efforts?|creation|establishment|"
    r"development|implementation|adoption|goals?|intent|intentions?|vision|concept|idea|plans?|approach|"
    r"direction|changes?|reforms?|polic(?:y|ies)|programs?|directory|ndh|registry|database|hub|framework|extensions?|expansions?|"
    r"rfi|request|bill|measure|actions?|move|step|work|exploration|objectives?|aims?|mission|"
    r"cms|hhs|onc|usda|epa|fda|the agency|agency'?s|department'?s|administration'?s|secretary'?s)"
)
# The proposal named as the object of a verdict ("agree with the rule", "voice against DHS's amendment").
_NAMED = (r"(?:proposals?|proposed|rules?|regulations?|amendments?|extensions?|expansions?|changes?|polic(?:y|ies)|bill|"
          r"plans?|initiatives?|idea|directory|registry|programs?|measures?)")
# "to support", "should support", "and support": a suggestion or a purpose, not the commenter's position.
_NOT_MODAL = r"(?<!to )(?<!help )(?<!and )(?<!should )(?<!could )(?<!would )(?<!must )(?<!can )(?<!will )(?<!may )(?<!or )"
# Cue marker: an evaluation ("is a good idea", "would be beneficial") counts only when it is about the proposal.
TOPIC = "topic"
# Cue marker: a cue whose side no negation changes ("you cannot take away my right" still objects).
FIXED = "fixed"
# Cue marker: a phrase learned from the docket (`stance_lexicon`): it names what a side argues
# about, so negated ("no food stamps for ...") it says nothing, rather than the other side.
LEARNED = "learned"
_DET = r"(?:(?:the|this|these|that|a|an|its|your|our|such|any|all|of|cms'?s?|hhs'?s?|onc'?s?|agency'?s|overall|general|proposed|new|national|broad|strong|continued|ongoing|conservative|full|recent|important|stated) )*"

# (pattern, weight). Patterns are matched on the lower-cased sentence (typographic apostrophes made plain).
_SUPPORT = [
    (r"(?<!to )\b(strongly|fully|wholeheartedly|enthusiastically|highly|wholly|completely|firmly) (support|endorse|agree with|favou?r|welcome)", 3.0, None, 'strongly fully wholeheartedly enthusiastically highly wholly completely firmly'),
    (r"\b(i|we|i'm|we're|i am|we are)( \w+){0,3}? (support|endorse|favou?r|welcome|applaud|commend|agree with|approve of)\b", 2.5, None, 'support endorse favor favour welcome applaud commend agree approve'),
    (_NOT_MODAL + r"\bsupport(s|ed|ing)? " + _DET + r"(\w+[- ]){0,2}?" + _PROPOSAL + r"\b", 2.0, None, 'support supports supported supporting'),
    (r"\b(endorse|endorses|endorsed|embrace|embraces) " + _DET + r"(\w+[- ]){0,2}?" + _PROPOSAL + r"\b", 2.0, None, 'endorse endorses endorsed embrace embraces'),
    (r"\b(supportive of|in support of|very much in support|in full support)\b", 2.0, None, 'supportive support'),
    (r"\bappreciate (the|cms'?s?|your) (intent|goal|idea|vision|desire|effort|efforts|initiative)\b", 1.5, None, 'appreciate'),
    (r"(^|\b(i|we|i'm|we're|am|are|is|be|strongly|fully|very much|all|wholeheartedly|firmly|definitely|totally|greatly|completely|heavily|highly) )in favou?r of\b", 2.5, None, 'favor favour'),
    (r"\bfavoritism of\b", 2.0, None, 'favoritism'),
    (r"\b(applaud|applauds|commend|commends|praise|praises|laud|lauds)\b", 2.5, None, 'applaud applauds commend commends praise praises laud lauds'),
    (r"\b(is|are|be|was|seems|sounds|looks|as|what|such|this|truly|very|really|an?)( like)?( an?| such an?)?( very| really| truly| incredibly| extremely| so| an| a)*"
     r" (excellent|great|good|nice|wonderful|fantastic|brilliant|exceptional|outstanding|important|positive|smart|wise|reasonable|"
     r"welcome|worthwhile|terrific|amazing|awesome|valuable|critical|needed|necessary|commendable|laudable|logical|"
     r"sensible|sound|long overdue)( first| next| and \w+)? (idea|step|move|initiative|start|tool|resource|proposal|"
     r"plan|effort|change|feature|development|improvement|thing|concept|direction|undertaking|endeavor|goal|addition|"
     r"rule|policy|regulation|bill|program|solution|decision|option)\b", 2.5, TOPIC, 'excellent great good nice reasonable wonderful fantastic brilliant exceptional outstanding important positive smart wise welcome worthwhile terrific amazing awesome valuable critical needed necessary commendable laudable logical sensible sound overdue'),
    (r"^(an? )?(excellent|great|good|nice|wonderful|fantastic|brilliant|exceptional|outstanding|terrific|awesome|important|smart) (set of )?(idea|step|move|initiative|proposal|plan|start|rules?|polic(y|ies)|improvements?|changes?|decision|news)\b", 2.5, None, 'excellent great good nice wonderful fantastic brilliant exceptional outstanding terrific awesome important smart'),
    (r"\b(would|will|could) be (a |an )?(very |extremely |so |hugely |tremendously |incredibly |really |most )?(beneficial|fabulous|amazing|valuable|great|helpful|wonderful|invaluable|useful|welcome|excellent|fantastic|huge help|game.?changer|a huge step|a great step|a step forward|huge benefit|great benefit|big help|great help|tremendous|asset|boon)\b(?! (if|that)\b)(?! to (?!(patients|consumers|everyone|all|the public|providers|physicians|doctors|us|me|people|americans|families|beneficiaries)\b)\w+)", 2.0, TOPIC, 'beneficial fabulous amazing valuable great helpful wonderful invaluable useful welcome excellent fantastic huge game step benefit big help tremendous asset boon'),
    (r"\bhas (it'?s |its |some |real |much |great |a lot of )?merits?\b", 1.5, None, 'merit merits'),
    (r"\b(is|are) (definitely |really |very |much |badly |sorely |truly |certainly |clearly |absolutely |urgently |so )?(needed|necessary|overdue|warranted|welcome)\b", 2.0, TOPIC, 'needed necessary overdue warranted welcome'),
    # plain expressions of support the cues above miss: "Support this!", "SUPPORT EXTENDING OPT",
    # "I vote for the extension", "We need this extension", "we should pass this proposal"
    (r"^(please )?support (this|it|these)\b|^(please )?support \w+ing\b|^(i |we )?support\W*$", 2.0, None, 'support'),
    (r"\b(i|we) (\w+ )?vote (for|yes on|in favou?r of) (this|the|these|it)\b", 2.5, None, 'vote'),
    (r"\b(we|i|us|they|students|americans?|the country|the nation|the economy|companies|employers|industry) (really |badly |desperately |definitely |truly |urgently |all )?needs? (this|these|the proposed) (\w+ )?" + _PROPOSAL + r"\b", 2.0, None, 'need needs'),
    (r"\b(should|must|need to|needs to|please|to) (pass|approve|adopt|finalize|implement|enact|accept) (this|the|these|that) (new |proposed |final )?(proposals?|rules?|regulations?|polic(y|ies)|bill|changes?|extension|measure|amendments?)\b", 2.5, None, 'pass approve adopt finalize implement enact accept'),
    (r"\b(bring|put) (this|the) (\w+ )?(rule|regulation|proposal|policy) into (power|effect|force)\b|\b(allow|let) (the|this) (\w+ )?(rule|regulation|proposal|policy) (to )?take effect\b", 2.5, None, 'bring put allow let'),
    (r"\b(a |the )?(clear|real|big|huge) winner\b|\bwin-win\b", 2.0, TOPIC, 'winner win'),
    (r"\b(this|the|these|that) (new |proposed )?(proposals?|rules?|regulations?|polic(y|ies)|changes?|extension|expansion|measure) (will|would|can|could) (definitely |really |greatly |certainly |surely |truly |clearly |significantly |undoubtedly )?(help|benefit|improve|strengthen|boost|promote|enhance|attract)\b", 2.0, None, 'help benefit improve strengthen boost promote enhance attract'),
    (r"\b(sorely|badly|desperately|long over ?due|much|greatly|urgently) needed\b", 2.0, None, 'needed'),
    # a verdict on the proposal named as the subject: "The proposed rule looks good", "this OPT regulation is pretty good"
    (r"\b(this|the|these) (\w+ ){0,2}?(proposals?|proposed \w+|rules?|regulations?|polic(y|ies)|programs?|changes?|plans?|initiatives?|extensions?|expansions?|actions?|decisions?|measures?|amendments?|law|bill)( (to|for|of|on|regarding|about|concerning)( [\w'-]+){1,8}?)? (is|are|looks?|seems?|sounds?|would be|will be) (very |really |pretty |so |truly |definitely |quite |extremely |absolutely |a )?(good|great|excellent|beneficial|helpful|wonderful|reasonable|fair|wise|smart|justified|sensible|positive|fantastic|brilliant|terrific|important|necessary|needed|advantageous)\b", 2.5, None, 'good great excellent beneficial helpful wonderful reasonable fair wise smart justified sensible positive fantastic brilliant terrific important necessary needed advantageous'),
    # "X should be approved", "I hope it will be approved", "I strongly recommend the extension", "Well done", "Thumbs up"
    (r"\b(it|this|these|(proposals?|proposed \w+|rules?|regulations?|polic(y|ies)|changes?|extensions?|expansions?|amendments?)) (should|must|needs to|has to) be (approved|passed|finalized|adopted|enacted|implemented)\b|\bhope (that )?(it|this|these|the \w+( \w+)?) (will|would|gets?|can) (be )?(approved|passed|finalized|adopted|enacted)\b", 2.0, None, 'approved passed finalized adopted enacted implemented'),
    (r"\b(strongly|highly|fully) recommend (this |the |these )?(\w+ ){0,2}?(proposals?|proposed|rules?|regulations?|polic(y|ies)|changes?|extensions?|expansions?|amendments?)\b(?! (to|be|should|that|include|add))", 2.5, None, 'recommend'),
    (r"^well done\b|\bthumbs up\b|^(kudos|bravo)\b", 2.0, None, 'well thumbs kudos bravo'),
    # the proposal named as the subject of a plain good verdict, with or without a determiner
    # ("I believe OPT extension is very important to ...")
    (r"(^|\b(believe|think|feel|know|sure|clear) (that )?)(the |this |these |a )?(\w+ ){0,2}?(proposals?|proposed \w+|rules?|regulations?|polic(y|ies)|changes?|extensions?|expansions?|initiatives?|amendments?|reforms?|directory|ndh) (is|are|will be|would be) (very |really |so |truly |extremely |absolutely |vitally |critically )?(important|essential|crucial|vital|beneficial|helpful|valuable|necessary|good|great) (to|for)\b", 2.0, None, 'important essential crucial vital beneficial helpful valuable necessary good great'),
    # "Failure to implement this law will ... be counterproductive"
    (r"\b(failure|failing|refusal|refusing) to (implement|adopt|pass|finalize|enact|approve) (this|the|these) ", 2.0, None, 'failure failing refusal refusing'),
    # glad of it: "I am so glad to hear about this new rule"
    (r"\b(glad|happy|pleased|delighted|thrilled|excited|grateful) (to (hear|see|learn|know|read) )?(about |of |that )?(this|the) (new |proposed )?(proposals?|rules?|regulations?|polic(y|ies)|changes?|extensions?|expansions?|amendments?|initiatives?)\b", 2.0, None, 'glad happy pleased delighted thrilled excited grateful'),
    # wishing it through: "I look forward to seeing this approved", "a long-awaited move", "I stand behind this rule"
    (r"\blook forward to (see|seeing) (this|it|these|the (new |proposed |final )?(proposals?|rules?|regulations?|polic(y|ies)|changes?|extension|expansion))( get| be| being)? (approved|finalized|implemented|adopted|enacted|passed|in effect|take effect|become)", 2.0, None, 'forward'),
    (r"\blong[- ]awaited\b", 2.0, TOPIC, 'long awaited'),
    (r"\b(i|we|strongly|fully|firmly|totally|completely) (stand|am standing|are standing) (for|with|behind|by) (this|these|the (new |proposed )?(proposals?|rules?|regulations?|polic(y|ies)|changes?|extension|expansion)|\w+ing)\b", 2.0, None, 'stand standing'),
    (r"\b(long overdue|high time|about time)\b", 2.0, None, 'overdue time'),
    (r"\bplease (do it|make this happen|move forward|proceed|implement|adopt|finalize|pass|approve|enact|go ahead|continue)\b", 2.5, None, 'please'),
    (r"\b(tremendous|significant|great|unique|important) opportunity to (establish|build|create|improve)", 2.0, None, 'opportunity'),
    (r"\b(appreciate|welcome|welcomes|appreciates) (cms'?s?|hhs'?s?|onc'?s?|the agency'?s?|your|the department'?s?) (efforts?|vision|leadership|focus|emphasis|initiative|exploration|work|commitment|desire|goal)", 2.0, None, 'appreciate welcome welcomes appreciates'),
    (r"\bencouraged by\b", 1.5, None, 'encouraged'),
    # agreeing with the proposal named: "I strongly agree the rule", "Strongly agree on STEM OPT extension"
    (r"(^|\b(i|we|strongly|fully|totally|completely|definitely|absolutely|really|also|wholeheartedly) )agree ((with|on|about|to) (\w+[- ]){0,3}?|(the|this|these) (\w+[- ]){0,2}?)" + _NAMED + r"\b", 2.5, None, 'agree'),
    (r"\bhope (that )?(it|this|these|the \w+( \w+)?) (will|would|can) (soon )?(pass|go through|take effect|become (law|final))\b", 2.0, None, 'hope'),
    (r"\bagree with (many|most|the) (of the )?(foundational|goals|ideas|approach|proposal|direction|intent)", 1.5, None, 'agree'),
    (r"\b(we|i) agree (with (cms|the agency|hhs|you)|that (a|the|this) (national|central|proposed))", 2.0, None, 'agree'),
    (r"\b(supports?|advance|align\w*|aligns closely) (with )?(cms'?s?|the agency'?s?|your|hhs'?s?) (goals?|vision|mission|efforts|objective)", 1.0, None, 'supports support advance align aligns aligned aligning alignment'),
    (r"\b(look forward to|welcome) (continued|further) (progress|collaboration)", 1.0, None, 'forward welcome'),
    # requests that the agency go ahead
    (r"\b(urge|ask|encourage|implore|request|beg)s? (cms|hhs|onc|you|the agency|the department|usda|the secretary|the administration)? ?(to )?(act now|move forward|move ahead|proceed|finalize|adopt|implement|pass|approve|enact|go forward|continue with|press ahead)", 2.5, None, 'urge urges ask asks encourage encourages implore implores request requests beg begs'),
    (r"\b(urge|ask|encourage|implore|request|beg|demand)s?( that)? (cms|hhs|you|the agency|the department|usda|the secretary|the administration)? ?(to )?(re-?instate|reinstitute|re-?establish|restore|bring back)", 2.5, None, 'urge urges ask asks encourage encourages implore implores request requests beg begs demand demands'),
    (r"(^|\bplease,? |\btime to |\bneed to |\bmust |\bshould )(re-?instate|reinstitute|re instate|bring back)\b", 2.0, None, 'reinstate instate reinstitute bring'),
    (r"\b(the )?(re-?instatement|restoration) of\b", 1.5, None, 'reinstatement instatement restoration'),
    (r"\b(re-?instating|reinstituting|restoring|bringing back) (the|a|these|this|those|our)\b", 1.5, None, 'reinstating instating reinstituting restoring bringing'),
    (r"\b(return|restore|bring|take|put|get) (it|this|the \w+|things|the \w+ \w+) back to (the way|how|what) (it|they) (was|were|used to be)|\b(return|restore) (it|this|the \w+|things|the \w+ \w+) to (the way|how|what) (it|they) (was|were|used to be)", 1.5, None, 'return restore bring take put get'),
    # demanding the change now: "CHANGE it now!"
    (r"\b(change|fix|reform) (it|this|things) now\b", 1.5, None, 'change fix reform'),
    # wanting to take part: "I'd love for my agency to be included in your directory"
    (r"\b(love|like|want|wish|eager|hope|happy|glad|excited)( for)?( my| our| us| me)?( \w+){0,2}? to (be included|be listed|be part of|participate in|join|take part in) (in )?(your|the|this) (\w+ )?" + _PROPOSAL + r"\b", 2.0, None, 'love like want wish eager hope happy glad excited'),
    (r"\b(it'?s|it is|high|about) time to (support|endorse|adopt|finalize|pass|approve|enact|re-?instate|reinstitute|restore)\b", 2.0, None, 'time'),
    (r"\b(should|must|needs? to) be (re-?instated|restored|reinstituted|brought back)\b", 2.0, None, 'reinstated instated restored reinstituted brought'),
    (r"\bplease (also )?support (\w+ing|this|these|the|this \w+)\b", 2.0, None, 'please'),
    (r"\b(is|are) (an? )?(excellent|great|good) idea\b", 2.5, None, 'idea'),
    (r"\b(great|big|huge|important|positive|major|critical|significant|welcome) steps?( forward| in the right direction)?\b|\bsteps? (forward|in the right direction)\b|\bright direction\b", 1.5, None, 'step steps right'),
    (r"\blove (for|to see|this|the idea)\b", 1.0, None, 'love'),
    (r"\b(yes|absolutely|definitely) to (this|the)\b|\bhell yes\b", 2.0, None, 'yes absolutely definitely'),
    (r"\b(this|the) (proposal|rule|directory|change|plan|initiative|idea|ndh) (is|would be|will be) (a )?(good|great|excellent|beneficial|welcome|needed|necessary|helpful|wonderful)\b", 2.5, None, 'good great excellent beneficial welcome needed necessary helpful wonderful'),
]

_NEG_ADJ = (
    r"(bad|terrible|horrible|awful|dangerous|harmful|misguided|ill-conceived|ill-advised|flawed|unworkable|"
    r"disastrous|cruel|shameful|heartless|reckless|irresponsible|absurd|ridiculous|outrageous|un-?american|unfair|unjust|"
    r"wrong|foolish|stupid|insane|evil|draconian|a mistake|a disaster|a waste|wasteful|unnecessary|"
    r"redundant|overreach|government overreach|unconstitutional|illegal|unlawful|discriminatory|useless|pointless|harmful|"
    r"criminal|disgraceful|a disgrace|a travesty|a betrayal|traitorous|treasonous|(job )?theft|a scam|a sham|a fraud|a joke|a sell-?out)"
)
_OPPOSE = [
    (r"\b(strongly|vehemently|firmly|adamantly|wholeheartedly|completely|totally) (oppose|object|disagree|reject)", 3.0, None, 'strongly vehemently firmly adamantly wholeheartedly completely totally'),
    (r"\b(i|we|i'm|we're|i am|we are)( \w+){0,3}? (oppose|object to|object|disagree with|reject|am against|are against|protest)\b", 3.0, None, 'oppose object disagree reject against protest'),
    (r"\b(opposed to|oppose|opposes)\b|(?<!any )(?<!the )(?<!their )(?<!such )(?<!this )\bopposition to\b", 2.5, None, 'opposed opposition oppose opposes'),
    (r"\b(i am|we are|i'm|we're|be|is|are) (totally |completely |firmly |strongly |very much )?against (this|the|these|any|such|it)\b", 2.5, None, 'against'),
    (r"\breject(s|ed|ing)? (this|the|any|these|such|that|your|cms'?s?) (\w+[- ]){0,2}?(proposals?|rule|proposed|changes?|plans?|idea|regulations?|polic(y|ies)|directory|bill|requirements?|language|definitions?)", 3.0, None, 'reject rejects rejected rejecting'),
    (r"\b(urge|ask|implore|beg|encourage)s? (cms|hhs|you|the agency|the department|the secretary|usda)? ?to reject\b", 3.0, None, 'reject'),
    (r"\b(please|must|should|need to)(,? \w+,?)? reject\b|\breject this\b|^reject\b", 2.5, None, 'reject'),
    (r"\b(withdraw|rescind|retract|scrap|abandon|shelve|kill|halt|stop|drop|repeal|cancel|end|table) (this|the|these|your|such|that) (\w+[- ]){0,2}?(proposals?|proposed|rules?|rulemaking|plans?|changes?|regulations?|initiative|polic(y|ies)|bill|directory|registry|database|idea|effort|requirement)", 3.0, None, 'withdraw rescind retract scrap abandon shelve kill halt stop drop repeal cancel end table'),
    (r"\b(please|must|should|urge|ask|need to)( \w+){0,3}? (withdraw|rescind|abandon|scrap|retract)\b|^withdraw\b", 2.5, None, 'withdraw rescind abandon scrap retract'),
    (r"\b(do not|don'?t|never) (cave|give in|bow|capitulate|fiddle|tamper|mess)\b", 2.5, None, 'cave give bow capitulate fiddle tamper mess'),
    (r"^(please,? )?(keep|preserve|maintain|retain) (the|our|this|current|existing) (current |existing )?(definition|rule|system|policy|language|law|standard|protections?|requirements?|wording|term|terms|status quo)\b", 2.0, None, 'keep preserve maintain retain'),
    (r"\b(please )?(do not|don'?t|never|please don'?t) (pass|approve|adopt|finalize|implement|enact|allow (this|these|the|it)|move forward|go forward|proceed|redefine|do this|create|make this|change (the|this|it|any)|go through with|let this|support this|sign)\b", 3.0, None, 'not don never'),
    (r"\bplease (do not|don'?t) (do|implement|proceed|move forward|adopt|redefine|allow|create|change|remove|eliminate|cut|replace|pass|approve)", 3.0, None, 'not don'),
    # asking the agency not to act: "I strongly urge you to not expand the program", "Do not expand ..."
    (r"\b(urge|ask|implore|beg|request|encourage)s? (cms|hhs|you|the agency|the department|the secretary|usda|dhs|congress)? ?(to not|not to) (pass|approve|adopt|finalize|implement|enact|expand|extend|increase|allow|proceed|move forward|go forward|create|change|make|give|grant|issue|add|include|require|mandate)\b", 3.0, None, 'urge urges ask asks implore implores beg begs request requests encourage encourages'),
    (r"^(please,? )?(do not|don'?t|dont) (expand|extend|increase|bring|give|grant|open|add|continue|mandate|require|force|import|hand)\b", 2.5, None, 'not don dont'),
    (r"^down with\b", 2.5, None, 'down'),
    (r"\bno[,.!]* no[,.!]* no\b", 2.5, None, 'no'),
    # refusing to go along: "I will not comply", "we refuse to participate"
    (r"\b(i|we)( [\w%]+){0,3}? (will not|won'?t|shall not|will never|refuse to|do not intend to) (ever )?(comply|obey|submit|participate|cooperate)\b", 2.5, FIXED, 'not won never refuse intend'),
    (r"\b(rules?|regulations?|law|polic(y|ies)|system|program) (does not|doesn'?t|dont|do not|don'?t) need (to )?(change|changing|to be changed|be changed|expanding|to be expanded)\b|\bno need for (this|these|the|a|any) (new |proposed )?" + _PROPOSAL + r"\b", 2.5, None, 'need'),
    (r"\b(vote|say|voting|saying) no\b|\bno to (this|the|these|any)\b|\bnot on my dime\b", 3.0, None, 'vote say voting saying no dime'),
    (r"\bnot in favou?r\b", 3.0, None, 'favor favour'),
    (r"\b(just stop|stop it|enough already|stop this (proposal|rule|plan|change|madness|stupidity|insanity|foolishness|silliness|directory|registry|now))\b|\bplease stop( (this|it|now))?\W*$", 2.0, None, 'stop enough'),
    (r"\b(urge|ask|implore|beg|encourage|request)s? (cms|hhs|you|the agency|the department|the secretary|usda|congress)? ?(to )?(keep|preserve|maintain|retain|protect|uphold|leave) ", 2.5, None, 'urge urges ask asks implore implores beg begs encourage encourages request requests'),
    (r"\b(please|must|should) (keep|preserve|maintain|retain|leave) (the )?(current|existing|present)\b|\bleave (it|things|the rule|the current \w+) (alone|as (it is|is))\b", 2.0, None, 'keep preserve maintain retain leave'),
    (r"\b(should|must|need to|needs to|urge \w+ to|ask \w+ to|please) (reconsider|rethink|start over|step back)\b|\b(revisit|pause|delay|halt) (this|the|these|your) (proposals?|proposed|rule|rulemaking|plans?|changes?|effort|initiative|directory)\b", 2.5, None, 'reconsider rethink start step revisit pause delay halt'),
    (r"\b(back to the drawing board|wrong direction|wrong objective|betrayal|step backward|step backwards|step in the wrong)\b", 3.0, None, 'drawing wrong betrayal step'),
    (r"\b(instead of|rather than) (creating|developing|building|establishing|adopting|implementing|finalizing) (a|the|this|another|yet another|new)\b", 2.0, None, 'instead rather'),
    (r"\b(take|taking|exercise|proceed with) caution\b|\bcaution against\b", 1.5, None, 'caution'),
    (r"\bmy concern (though|is)\b|\bhave (serious |grave |significant )?(doubts|reservations)\b", 1.0, None, 'concern doubts reservations'),
    (r"\b(very |extremely |really )?(bad|dangerous|terrible|horrible|awful|harmful|misguided|flawed|foolish|stupid|disastrous|ill-conceived|irresponsible)( and \w+)?( [\w/-]+){0,2}? (idea|system|precedent|proposal|policy|plan|rule|change|decision)\b", 3.0, None, 'bad dangerous terrible horrible awful harmful misguided flawed foolish stupid disastrous ill irresponsible'),
    (r"\b(this|the|these|your) (\w+ ){0,2}(proposals?|proposed \w+|rule|plan|changes?|directory|registry|idea|polic(y|ies)|programs?|regulations?|extensions?|expansions?|actions?|measures?|act|bill|amendments?|move)( (to|for|of|on|regarding|about|concerning)( [\w'-]+){1,8}?)? (is|are|would be|will be|seems|sounds)( \w+)? [\"']?" + _NEG_ADJ + r"\b", 3.0, None, 'bad dangerous terrible horrible awful harmful misguided ill conceived advised flawed unworkable disastrous cruel shameful heartless reckless irresponsible absurd ridiculous outrageous unamerican american unfair unjust wrong foolish stupid insane evil draconian mistake disaster waste wasteful unnecessary redundant overreach unconstitutional illegal unlawful discriminatory useless pointless criminal disgraceful disgrace travesty betrayal traitorous treasonous theft scam sham fraud joke sell'),
    (r"\bany (proposal|rule|change|policy) that (\w+ ){1,10}(is|are|would be|will be) (\w+ )?" + _NEG_ADJ + r"\b", 2.5, None, 'bad dangerous terrible horrible awful harmful misguided ill conceived advised flawed unworkable disastrous cruel shameful heartless reckless irresponsible absurd ridiculous outrageous unamerican american unfair unjust wrong foolish stupid insane evil draconian mistake disaster waste wasteful unnecessary redundant overreach unconstitutional illegal unlawful discriminatory useless pointless criminal disgraceful disgrace travesty betrayal traitorous treasonous theft scam sham fraud joke sell'),
    # against the proposal named: "I would like to register my voice against DHS's amendment"
    (r"\b(voice|voices|voicing|stand|standing|speak|speaking|vote|voting|argue|arguing|write|writing|adamantly|vehemently|strongly|firmly|totally|completely) against (this|the|these|that|any|such|your|its|dhs'?s?|cms'?s?|hhs'?s?|usda'?s?|the agency'?s?) (\w+[- ]){0,3}?" + _NAMED + r"\b", 2.5, None, 'against'),
    # a verdict on a bill or amendment named in the sentence: "This is a bad bill"
    (r"\b(bad|terrible|horrible|awful|dangerous|harmful|misguided|flawed|foolish|stupid|disastrous|irresponsible|criminal|disgraceful|shameful)( and \w+)? (bill|amendment|extension|expansion|move|regulation|program)\b", 2.5, TOPIC, 'bad terrible horrible awful dangerous harmful misguided flawed foolish stupid disastrous irresponsible criminal disgraceful shameful'),
    (r"\b(is|are|be) (a |an )?(real |total |huge )?job[- ]?killers?\b", 2.0, TOPIC, 'job'),
    (r"\b(is|are) (a )?dangerous precedent\b|\bdangerous ground\b|\bslippery slope\b", 2.5, None, 'dangerous slippery'),
    (r"\bunconstitutional\b", 2.5, None, 'unconstitutional'),
    (r"\b(gone|goes|go|going) (way )?too far\b", 2.5, None, 'far'),
    (r"\b(unnecessary|wasteful|waste of)\b", 0.75, TOPIC, 'unnecessary wasteful waste'),
    (r"\b(concerned|concerns?) (about|that|regarding|with) (a|the|this|any) (national|proposal|proposed|directory|registry|database|mandatory|rule|plan|change)", 1.5, None, 'concerned concern concerns'),
    (r"\b(i|we) (am|are) (extremely |very |deeply |gravely )?concerned\b", 1.0, None, 'concerned'),
    (r"\bnot an acceptable\b|\bunacceptable\b", 2.0, TOPIC, 'acceptable unacceptable'),
    (r"\b(no|never) (mandatory |required )?(digital id|biometric|wearable)", 2.0, None, 'digital biometric wearable'),
    (r"\bshould (not|never) be (mandated|mandatory|required|forced|implemented|adopted|finalized|allowed|created)", 1.5, None, 'mandated mandatory required forced implemented adopted finalized allowed created'),
    (r"\bno one should be forced\b|\bunder no circumstances\b", 1.5, None, 'forced circumstances'),
    (r"\b(do|does) not want (one bit|any|my|our|this|the)\b", 1.5, None, 'want'),
    (r"\b(begging|beg) you (to )?not\b", 3.0, None, 'begging beg'),
    (r"\benemy of humanity\b", 2.0, None, 'enemy'),
    (r"\b(must|should) be (completely )?removed from (the|this)\b", 2.0, None, 'removed'),
    (r"\b(obscures?|erasure|erase|erasing|eroding|redefin\w+)\b", 1.0, None, 'obscure obscures erasure erase erasing eroding redefine redefined redefining redefinition'),
    (r"\bdo not (embrace|hide|obscure)\b", 1.5, None, 'embrace hide obscure'),
    (r"\btread lightly\b", 1.5, None, 'tread'),
    (r"\brather than (developing|creating|building) a (new )?(centralized|national)", 2.0, None, 'rather'),
    (r"\bnot (attainable|feasible|workable|needed|necessary|wanted)\b", 1.0, None, 'attainable feasible workable needed necessary wanted'),
    (r"\b(doubts?|skeptical) (that|about)\b", 1.0, None, 'doubt doubts skeptical'),
    # asserting a right the proposal is seen to threaten ("patients have the right to know the sex of ...")
    (r"\b(have|has|should have|must have|retain|keep|deserve|insist on) (a|the|their|our|my)? ?(basic |fundamental |absolute |complete |total )?rights? to (know|choose|refuse|select|decide|review|request|be treated)\b", 1.5, None, 'right rights'),
    (r"\bkeep (\w+ ){1,2}out of (\w+ )?(science|medicine|health ?care|our|my|the)\b", 2.0, None, 'keep'),
    (r"\b(how dare you|shame on you|what are you thinking|are you out of your mind)\b", 2.5, FIXED, 'dare shame thinking mind'),
    (r"\b(do not|don'?t) (take|strip|remove|eliminate) (away )?(our|my|the) (right|rights|privacy|protections?|benefits?|choice)\b|\btake away (our|my|the|a) (\w+ )?(right|rights|privacy|choice)\b", 2.5, FIXED, 'take strip remove eliminate'),
]

# Cue counted on the other side when negated ("do not support" -> oppose).
_NEGATOR = re.compile(
    r"\b(not|no|never|don'?t|doesn'?t|didn'?t|won'?t|wouldn'?t|cannot|can'?t|couldn'?t|isn'?t|aren'?t|wasn'?t|"
    r"hardly|neither|nor|without|unable|refuse|refuses|hesitate to|fail to|fails to)\b"
)
# Negation idioms that negate nothing ("no doubt we support", "not only ... but").
_NOT_NEGATION = re.compile(
    r"\b(no doubt|not only|not just|no question|cannot (stress|overstate|emphasize|say enough)|can'?t (stress|overstate|emphasize|say enough)|"
    r"never been more|not surprisingly|no matter|not least|nothing but|could not agree more|couldn'?t agree more|cannot wait|can'?t wait)\b"
)
# Cue patterns that already contain a negation must not be flipped again.
_SELF_NEGATED = re.compile(r"\b(not|no|never|don'?t|do not|under no|no one)\b")

# A negated cue after "no reason (why)" asks for the thing ("there is no reason X should not be required").
_NO_REASON = re.compile(r"\bno (good |valid )?reason\b")

# Politeness and self-reference: never evidence of stance.
_IGNORE = re.compile(  # (thanks for "this important step" is praise, not politeness: not ignored)
    r"(thank(s| you)? (you )?for (the |this |an |your )?(opportunity|chance|ability|invitation|consideration|time|attention|allowing|considering|providing|reviewing|reading|request|rfi|comment)"
    r"|appreciates? (the|this|an) (opportunity|chance)"
    r"|(pleased|honored|happy|glad) (for|to have|to (submit|provide|respond|comment|present|share|offer))"
    r"|(support|endorse) (this|my|our) (comment|letter|submission)"
    r"|welcomes? the opportunity"
    r"|i support this\W*(it really matters)?$)"
)

_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)")

# Long letters state their position near the start or the end: score at most
# this many sentences from each end (bounds the cost of 50-page attachments).
HEAD_SENTENCES = 40
TAIL_SENTENCES = 20
# Weight of a cue phrase a caller adds (a docket's codebook): a firm cue.
EXTRA_CUE_WEIGHT = 2.5
# Weight of a phrase learned from the docket's own texts (`stance_lexicon`): it decides a text that
# states no verdict (the `strong` threshold of `_decide`), never overturns an explicit one.
LEARNED_CUE_WEIGHT = 1.5
# Positions a caller may give cue phrases for: the analyst's own, and those learned from the docket.
CUE_KEYS = {"support": ("support", EXTRA_CUE_WEIGHT, None), "oppose": ("oppose", EXTRA_CUE_WEIGHT, None),
            "learned_support": ("support", LEARNED_CUE_WEIGHT, LEARNED),
            "learned_oppose": ("oppose", LEARNED_CUE_WEIGHT, LEARNED)}


def _gate(pattern: str) -> frozenset[str]:
    """Word prefixes (first 3-4 letters) of which a matching sentence must contain one.

    Every path through each cue pattern contains a literal word of 3+ letters,
    so a sentence holding none of the pattern's word prefixes cannot match it;
    checking a set intersection first skips most of the regex searches.
    """
    literal = re.sub(r"\(\?<!.*?\)", "", pattern)  # lookbehinds are not required words
    literal = re.sub(r"\\[a-zA-Z]", " ", literal)  # \b, \w, \s are not letters of a word
    return frozenset(w[:4] for w in re.findall(r"[a-z]{3,}", literal))


@dataclass(frozen=True, eq=False)
class CueSet:
    """Compiled cue patterns per side: (regex, weight, gate, marker), strongest first.

    Compared and hashed by identity (eq=False): each set is built once (DEFAULT_CUES, or cached
    per codebook by `cue_set`), and hashing the patterns on every cached sentence lookup cost
    more than scoring the sentence."""

    support: tuple
    oppose: tuple
    # A set that only adds phrase cues to another (a docket's codebook or learned phrases): `base` is
    # that other set and `added` one regex matching any cue it adds. A sentence that holds none of
    # them scores exactly as under `base` (an added cue that matches nothing takes no span and no
    # weight, and the other cues keep their order), and `base` has usually scored it already:
    # reading a text again with the learned phrases then costs one regex search per sentence.
    base: CueSet | None = None
    added: re.Pattern | None = None


def _keys(words: str) -> frozenset[str]:
    """A cue's key words as the prefixes `_score_sentence` compares (first 4 letters, or the word)."""
    return frozenset(w[:4] for w in words.split())


def _compile(patterns: Iterable[tuple]) -> tuple:
    """(regex, weight, gate, marker) per cue, strongest first; marker is TOPIC, FIXED or None.

    A cue is (pattern, weight) or (pattern, weight, marker, keys). `keys` are the words of which
    every match must contain one (the cue's core verb or adjective); a sentence with none of them
    skips the regex. Without keys the gate is every literal word of the pattern (`_gate`), which is
    safe but lets common words ("the", "this") through. tests/test_stance.py checks that gated and
    ungated scoring agree on every sentence of the evaluation dockets.
    """
    return tuple((re.compile(c[0]), c[1], _keys(c[3]) if len(c) > 3 and c[3] else _gate(c[0]),
                  c[2] if len(c) > 2 else None)
                 for c in sorted(patterns, key=lambda c: -c[1]))


DEFAULT_CUES = CueSet(_compile(_SUPPORT), _compile(_OPPOSE))
_WORD = re.compile(r"[a-z]+")


def phrase_pattern(phrase: str) -> str:
    """A caller's cue phrase as a pattern: words in order, any spacing or punctuation between them.

    The phrase starts at a word boundary and its last word may go on ("work
    requirement" also matches "work requirements"). Matching is on lower-cased text.
    """
    words = re.findall(r"[a-z0-9']+", phrase.lower().replace("\u2019", "'"))
    if not words:
        raise ValueError(f"cue phrase {phrase!r} has no words")
    return r"\b" + r"\W+".join(re.escape(w) for w in words)


def learned_pattern(phrase: str) -> str:
    """A learned phrase as a pattern: its words singular or plural ("work requirements" also matches
    "a work requirement", "food stamp" also "food stamps"), and its last word ends there."""
    words = re.findall(r"[a-z0-9']+", phrase.lower().replace("\u2019", "'"))
    if not words:
        raise ValueError(f"cue phrase {phrase!r} has no words")
    forms = [re.escape(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w) + "(?:s|es)?"
             for w in words]
    return r"\b" + r"\W+".join(forms) + r"\b"


@lru_cache(maxsize=64)
def _cues_with(extra: tuple[tuple[str, tuple[str, ...]], ...]) -> CueSet:
    added: dict[str, list] = {"support": [], "oppose": []}
    # The set these cues extend: the caller's own cues when learned phrases come on top of them
    # (texts are read with those first), else the defaults; `new`: the patterns not in that set.
    own = tuple((key, phrases) for key, phrases in extra if not key.startswith("learned_"))
    learned = any(phrases for key, phrases in extra if key.startswith("learned_"))
    base = _cues_with(own) if learned and any(phrases for _, phrases in own) else DEFAULT_CUES
    new: list[str] = []
    for key, phrases in extra:
        side, weight, marker = CUE_KEYS[key]
        patterns = [learned_pattern(p) if marker == LEARNED else phrase_pattern(p) for p in phrases]
        added[side] += [(pattern, weight, marker) for pattern in patterns]
        if base is DEFAULT_CUES or key.startswith("learned_"):
            new += patterns
    return CueSet(_compile(list(_SUPPORT) + added["support"]), _compile(list(_OPPOSE) + added["oppose"]),
                  base=base, added=_any_of(new))


def _any_of(patterns: list[str]) -> re.Pattern:
    """One regex that matches where any of `patterns` (phrase patterns, each starting with a word
    boundary) matches. The shared leading \\b is factored out so that each alternative starts
    with a literal letter, which the regex engine checks before trying the alternative."""
    if patterns and all(p.startswith(r"\b") for p in patterns):
        return re.compile(r"\b(?:" + "|".join(f"(?:{p[2:]})" for p in patterns) + ")")
    return re.compile("|".join(f"(?:{p})" for p in patterns) or r"(?!)")


def cue_set(extra_cues: Mapping[str, Iterable[str]] | None = None) -> CueSet:
    """The default cues plus a caller's own phrases per position (`{"support": [...], "oppose": [...]}`).

    Unknown positions are a ValueError (a codebook typo must not pass silently).
    """
    if not extra_cues:
        return DEFAULT_CUES
    unknown = set(extra_cues) - set(CUE_KEYS)
    if unknown:
        raise ValueError(f"extra cues for unknown position(s) {sorted(unknown)}: use 'support' and 'oppose'")
    key = tuple(sorted((side, tuple(sorted({p.strip() for p in phrases if p and p.strip()})))
                       for side, phrases in extra_cues.items()))
    if not any(phrases for _, phrases in key):
        return DEFAULT_CUES
    return _cues_with(key)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence-like piece, trimmed of surrounding space."""
    spans = []
    for m in _SENTENCE.finditer(text):
        piece = m.group()
        core = piece.strip()  # str.strip drops exactly the characters str.isspace accepts
        if len(core) >= 3:
            start = m.start() + len(piece) - len(piece.lstrip())
            spans.append((start, start + len(core)))
    return spans


_CLAUSE_BREAK = re.compile(r"[,;:()]|\bbut\b|\bhowever\b|\balthough\b|\bthough\b|\bwhile\b|\bwhereas\b|\band\b")


def _negated(sentence: str, cue_start: int) -> bool:
    # Negation scope: the five words before the cue, not across a clause break.
    before = _NOT_NEGATION.sub(" ", sentence[:cue_start])
    clause = _CLAUSE_BREAK.split(before)[-1]
    window = " ".join(clause.split()[-5:])
    return bool(_NEGATOR.search(window))


# What an evaluation must be about to count: the proposal, or "this"/"it" (the thing commented on).
_TOPIC_WORDS = re.compile(
    r"\b(this|it|these|here|proposals?|proposed|rule|rules|rulemaking|directory|registry|ndh|initiatives?|plans?|idea of|"
    r"cms|hhs|onc|national|central\w*|effort|efforts|programs?|reforms?|change|changes|rfi|regulations?|polic(?:y|ies)|"
    r"extensions?|expansions?|amendments?|bill|measures?|database|hub|concept|vision|approach|agency|such a|what a)\b"
)


def _about_proposal(low: str, start: int, end: int) -> bool:
    """An evaluation at low[start:end] names the proposal in it or in the ten words before it
    (or opens the sentence: "Great idea!")."""
    before = low[:start].split()
    if not before or (len(before) <= 2 and not _TOPIC_WORDS.search(low[end:end + 40])):
        return len(before) <= 2
    window = " ".join(before[-10:]) + " " + low[start:end]
    return bool(_TOPIC_WORDS.search(window))


_PLAIN_SUBJECT = re.compile(r"\b(" + _NON_AGENTS + r")\s+(also\s+|directly\s+|further\s+|thereby\s+|which\s+)?$")


_PURPOSE = re.compile(r"\b(to|help|helps|should|could|would|must|can|will|may|might|and|or)\s+(\w+ly\s+)?$")


# Others' position the commenter reports in order to answer it: "I don't know why so many people
# oppose this", "I understand many US citizens are against this act; however ...".
_OTHERS_POSITION = re.compile(
    r"\b(why|understand|understands|know|aware|realize|despite|although|though|even if)\b.*\b(people|many|some|"
    r"others|they|those|folks|opponents|critics|citizens|americans|groups|persons|everyone|anyone|someone)( \w+)?\s+$")
_STANCE_VERB = re.compile(r"\b((is|are|be) against|oppos|object|disagree|reject|support|favou?r|endorse)")


def _others_position(low: str, start: int, matched: str) -> bool:
    verb = _STANCE_VERB.search(matched)
    return bool(verb) and bool(_OTHERS_POSITION.search(low[max(0, start + verb.start() - 120):start + verb.start()]))


# A cue inside a condition is not a position: "if we reject them simply because of this, ..."
# (the condition ends at a clause break: "the country will grow if this rule is issued, so I support it")
_CONDITION = re.compile(r"\b(if|unless|whether)\b(?:(?!\b(?:so|then|but|and|because|therefore|thus)\b)[^,;:])*$")


def _hypothetical(low: str, start: int) -> bool:
    return bool(_CONDITION.search(low[max(0, start - 60):start]))


def _plain_verb(low: str, start: int, matched: str) -> bool:
    """'support(s)' whose subject is a thing, not a commenter ("this data supports a ..."), or that
    states a purpose or a suggestion ("to fully support any NDH scheme", "CMS should support X");
    or, for any cue, a position of others the commenter is answering ("I don't know why people
    oppose this") or one inside a condition ("if we reject them, ...")."""
    if _others_position(low, start, matched) or _hypothetical(low, start):
        return True
    if not matched.startswith("support"):
        return False
    before = low[:start]
    return bool(_PLAIN_SUBJECT.search(before) or _PURPOSE.search(before))


def score_sentence(sentence: str, cues: CueSet = DEFAULT_CUES, *, gated: bool = True) -> tuple[float, float]:
    """(support, oppose) weight of one sentence (`gated=False` runs every regex: for checking the gates)."""
    # (called as _classify calls it when gated: the cache is keyed by the arguments as passed)
    return _score_sentence(sentence, cues) if gated else _score_sentence(sentence, cues, False)


def _lowered(sentence: str) -> str | None:
    """The sentence as the cues read it (lower case, plain apostrophes, politeness blanked), or
    None when it is only politeness."""
    low = sentence.lower().replace("\u2019", "'").replace("\u2018", "'")
    blanked, n = _IGNORE.subn(" ", low)  # (one scan: most sentences hold no politeness)
    if n and not re.search(r"\b(support|oppose|reject|favor|applaud)\w*\b", _IGNORE.sub("", low)):
        return None
    return blanked


@lru_cache(maxsize=1 << 18)
def _score_sentence(sentence: str, cues: CueSet, gated: bool = True) -> tuple[float, float]:
    # Cached: personalized form letters repeat the template's sentences, so on a
    # big docket most sentences are scored once, however many copies carry them.
    low = _lowered(sentence)
    if low is None:
        return 0.0, 0.0
    if gated and cues.base is not None and not cues.added.search(low):
        return _score_sentence(sentence, cues.base)  # (see CueSet.base; ungated: the long way, for checking)
    support = oppose = 0.0
    taken: list[tuple[int, int]] = []  # cue spans already counted (strongest first)

    def overlaps(a, b):
        return any(a < e and s < b for s, e in taken)

    question = low.rstrip().endswith("?")
    words = _WORD.findall(low)
    present = {w[:4] for w in words} | {w[:3] for w in words}
    for patterns, side in ((cues.oppose, "oppose"), (cues.support, "support")):
        if side == "support" and question:
            continue  # "Who thought that this is a good idea?" is not praise
        for rx, weight, gate, marker in patterns:
            if gated and gate and gate.isdisjoint(present):
                continue
            for m in rx.finditer(low):
                if overlaps(m.start(), m.end()) or _plain_verb(low, m.start(), m.group(0)):
                    continue
                if marker == TOPIC and not _about_proposal(low, m.start(), m.end()):
                    continue
                taken.append((m.start(), m.end()))
                if _SELF_NEGATED.search(m.group(0)):
                    flipped = marker != FIXED and bool(_NO_REASON.search(_CLAUSE_BREAK.split(low[:m.start()])[-1]))
                else:
                    flipped = marker != FIXED and _negated(low, m.start())
                if flipped and marker == LEARNED:
                    continue
                if (side == "support") != flipped:
                    support += weight
                else:
                    oppose += weight
    return support, oppose


def classify(text: str | None, *, extra_cues: Mapping[str, Iterable[str]] | None = None) -> Stance:
    """Stance of one text toward the proposed action.

    `extra_cues` adds cue phrases per position for this docket
    (`{"support": ["reinstate work requirements"], "oppose": [...]}`), each
    weighted as a firm cue and subject to the same negation rules. Phrases
    learned from the docket's own texts (`learned_support`, `learned_oppose`:
    `stance_lexicon`) only decide a text the other cues leave `unclear`: a
    docket's topic phrase must never turn an explicit verdict into `mixed`.
    """
    return Reader(extra_cues)(text)


class Reader:
    """`classify` with its cues resolved once, for a caller that reads many texts with the same
    cues (resolving them sorts every phrase, which cost more than reading a short text).

    `own` is the cue set of the first reading (the cues without the learned phrases), None when
    there are no learned phrases; `cues` is every cue."""

    def __init__(self, extra_cues: Mapping[str, Iterable[str]] | None = None):
        self.cues = cue_set(extra_cues)
        self.own = None
        if extra_cues and any(extra_cues.get(k) for k in ("learned_support", "learned_oppose")):
            self.own = cue_set({k: v for k, v in extra_cues.items() if not k.startswith("learned_")})

    def __call__(self, text: str | None) -> Stance:
        if not text or not text.strip():
            return Stance("unclear", 0.0, None)
        if self.own is not None:
            first = _classify(text, self.own)
            if first.stance != "unclear":
                return first
        return _classify(text, self.cues)

    def after_unclear(self, text: str | None) -> Stance:
        """What `self(text)` gives for a text whose first reading (with `own`) was unclear,
        without reading it a first time again."""
        if not text or not text.strip():
            return Stance("unclear", 0.0, None)
        return _classify(text, self.cues)


def _classify(text: str, cues: CueSet) -> Stance:
    total_s = total_o = 0.0
    best_s = best_o = (0.0, None)
    spans = sentence_spans(text)
    if len(spans) > HEAD_SENTENCES + TAIL_SENTENCES:
        spans = spans[:HEAD_SENTENCES] + spans[-TAIL_SENTENCES:]
    for start, end in spans:
        s, o = _score_sentence(text[start:end], cues)
        total_s += s
        total_o += o
        if s > best_s[0]:
            best_s = (s, (start, end))
        if o > best_o[0]:
            best_o = (o, (start, end))
    return _decide(text, total_s, total_o, best_s[1], best_o[1])


def _decide(text, s, o, span_s, span_o) -> Stance:
    strong = 1.5  # below this a side is only a hint
    if s < strong and o < strong:
        # No side reached a firm cue: unclear, less sure the more hints there were.
        return Stance("unclear", round(0.6 - 0.2 * max(s, o) / strong, 3), None, s, o)
    lo, hi = min(s, o), max(s, o)
    if lo >= strong and lo >= 0.5 * hi:
        first = min(span_s, span_o)  # the earlier of the two deciding sentences
        return Stance("mixed", round(min(0.9, 0.4 + lo / (hi + lo)), 3), _cut(text, first), s, o)
    side, span = ("support", span_s) if s > o else ("oppose", span_o)
    confidence = min(0.95, 0.5 + 0.1 * hi) * (1 - 0.5 * lo / hi)
    return Stance(side, round(confidence, 3), _cut(text, span), s, o)


def _cut(text: str, span) -> str | None:
    if span is None:
        return None
    start, end = span
    if end - start > 400:
        end = start + 400
    return text[start:end]


def inherit(template: Stance, additions: list[str] | None, *,
            extra_cues: Mapping[str, Iterable[str]] | None = None,
            reader: Reader | None = None) -> tuple[Stance, str]:
    """A campaign member's stance: the template's unless its added sentences say otherwise.

    Returns (stance, source) with source 'template' or 'additions'. The
    additions override only when they take a clear side with at least the
    template's confidence; additions that agree (or say nothing) leave the
    template's stance. `reader`: `Reader(extra_cues)` made once by a caller with many members.
    """
    text = "\n".join(a for a in (additions or []) if a)
    if not text.strip():
        return template, "template"
    own = (reader or Reader(extra_cues))(text)
    if own.stance in ("unclear",) or own.stance == template.stance:
        return template, "template"
    if own.confidence >= template.confidence or template.stance == "unclear":
        return own, "additions"
    return template, "template"
