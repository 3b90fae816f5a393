"""Architecture encoders: arch2vec (unsupervised VGAE, pretrained once per space) and ranking
predictors (GATES and MLP/LSTM baselines), with the checks that measure them."""
