"""The bias simulator's mechanisms, one small function each; :func:`fairssl.data.simulate.simulate`
composes them. Modules: ``knobs`` (channel names, config checks), ``latent`` (factors, outcome, Bayes
score), ``signals`` (channels from the factors), ``labels`` (recording bias), ``cohort`` (subjects,
splits, pool-only bias), ``observe`` (missingness and sampling rate)."""
