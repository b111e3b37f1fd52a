-- Labels that measure instead of teach (`comments label sample --check`): a random,
-- blind sample of the docket's read texts. 'train' labels train the per-docket model
-- and are what its cross-validated accuracy is measured on; 'check' labels are never
-- trained on, and the analysis scores its stance method on them (an estimate over the
-- docket's read texts, where the training sample is the least certain first).
alter table analyst_labels add column if not exists purpose varchar default 'train';
-- What the check labels measured, per run: how many distinct texts, the method's
-- agreement with them and its 95% Wilson interval, and the rules' and the model's agreement.
alter table stance_models add column if not exists check_n integer;
alter table stance_models add column if not exists check_accuracy double;
alter table stance_models add column if not exists check_low double;
alter table stance_models add column if not exists check_high double;
alter table stance_models add column if not exists check_rules_accuracy double;
-- the per-docket model's agreement with the check labels, also when the rules were kept
alter table stance_models add column if not exists check_model_accuracy double;
