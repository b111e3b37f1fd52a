-- How each analysis run decided stance, and how accurate that measured on the
-- docket's own analyst labels. One row per run (history is kept, the latest
-- row is what briefings and the explorer show: comments.labels.stance_accuracy).
--   method 'rules': the rules alone (fewer than 30 labeled texts, or the model
--                   measured worse than the rules on the same labels)
--   method 'model': a per-docket classifier trained on the labels; labeled
--                   texts keep their label, the model labels the rest
-- accuracy: the model's cross-validated accuracy, grouped by campaign (copies
-- of one letter never on both sides of a split), pooled over the folds;
-- accuracy_sd: the spread of the fold accuracies. For 'rules', accuracy is the
-- rules' agreement with the labels (null without labels: not measured).
create table if not exists stance_models (
    docket_id       varchar not null,
    run_id          varchar not null,
    method          varchar not null,     -- rules | model
    n_labels        integer not null,     -- distinct labeled texts (copies of one text count once)
    accuracy        double,
    accuracy_sd     double,
    folds           integer,
    rules_accuracy  double,               -- the rules' agreement with the same labels
    model_accuracy  double,               -- the model's grouped CV accuracy, also when the rules were kept
    classes         json,                 -- labeled texts per stance, e.g. {"oppose": 20, "support": 25}
    note            varchar,
    trained_at      timestamp not null,
    primary key (docket_id, run_id)
);
