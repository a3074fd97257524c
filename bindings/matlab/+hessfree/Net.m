classdef Net < handle
  % hessfree.Net  A feed-forward network: architecture and parameters θ.
  %
  %   net = hessfree.Net(sizes, activations, seed)
  %       sizes: layer widths, input first, e.g. [784 500 10];
  %       activations: one per non-input layer, a cell array of names
  %       ('logistic', 'tanh', 'linear', 'relu', 'softmax') or one name
  %       for every layer; seed: the sparse initialisation's seed (default 0).
  %   net = hessfree.Net.autoencoder([784 1000 500 250 30], 'logistic', seed)
  %       The paper's deep autoencoders (the decoder mirrors the encoder).
  %   net = hessfree.Net.preset('curves' | 'mnist' | 'faces', seed)
  %   net = hessfree.Net.load(path)
  %
  % Deleting the object (clear, going out of scope) frees the C object.
  % Parameters are a single column vector; matrices have one example per
  % column. Errors are raised as 'hessfree:<status>' with the library's
  % message.

  properties (SetAccess = private)
    id = uint64(0)  % the C handle (uint64); stays set after free()
  end

  methods
    function obj = Net(sizes, activations, seed)
      if nargin == 1 && isa(sizes, 'uint64') && isscalar(sizes)
        obj.id = sizes;  % internal: wrap (and own) a handle
        return;
      end
      if nargin < 2
        error('hessfree:HF_ERR_INVALID_ARGUMENT', ...
              'hessfree.Net(sizes, activations, seed): sizes and activations are required');
      end
      if nargin < 3, seed = 0; end
      obj.id = hessfree_mex('net_new', sizes, activations, seed);
    end

    function delete(obj)
      % Frees the C object (a second free is harmless).
      hessfree.Net.release_(obj.id);
    end

    function free(obj)
      % Frees the C object now; later use raises 'hessfree:HF_ERR_INVALID_HANDLE'.
      hessfree_mex('net_free', obj.id);
    end

    function n = num_params(obj)
      % The number of parameters P.
      n = hessfree_mex('net_num_params', obj.id);
    end

    function [sizes, activations] = layers(obj)
      % Layer widths (input first) and the activation of each non-input layer.
      [sizes, activations] = hessfree_mex('net_layers', obj.id);
    end

    function s = describe(obj)
      % e.g. '784-32(logistic)-6(linear)-32(logistic)-784(logistic)'.
      s = hessfree_mex('net_describe', obj.id);
    end

    function theta = params(obj)
      % θ as a single column vector (P x 1).
      theta = hessfree_mex('net_params', obj.id);
    end

    function set_params(obj, theta)
      % Replaces θ (a vector of P finite doubles or singles).
      hessfree_mex('net_set_params', obj.id, theta);
    end

    function Y = predict(obj, X)
      % Outputs (Dout x N, single) for inputs X (Din x N, one example per column).
      Y = hessfree_mex('net_predict', obj.id, X);
    end

    function [loss, err] = evaluate(obj, data)
      % Mean loss (no weight cost) and mean per-example squared error on a hessfree.Data.
      [loss, err] = hessfree_mex('net_evaluate', obj.id, hessfree.Data.handle_of(data));
    end

    function [grad, loss] = gradient(obj, data)
      % Gradient of the mean loss on a hessfree.Data (single column) and the loss.
      [grad, loss] = hessfree_mex('net_gradient', obj.id, hessfree.Data.handle_of(data));
    end

    function copy = clone(obj)
      % An independent copy (architecture and θ).
      copy = hessfree.Net(hessfree_mex('net_clone', obj.id));
    end

    function save(obj, path)
      % Writes the network to a file (atomically; versioned, checksummed).
      hessfree_mex('net_save', obj.id, path);
    end

    function disp(obj)
      try
        fprintf('  hessfree.Net %s (%d parameters)\n', obj.describe(), obj.num_params());
      catch err
        fprintf('  hessfree.Net (unusable: %s)\n', err.message);
      end
    end
  end

  methods (Static)
    function net = autoencoder(encoder, output_activation, seed)
      % A deep autoencoder: encoder sizes from input to code layer; logistic
      % hidden units, linear code layer, output units 'logistic' or 'linear'.
      if nargin < 2, output_activation = 'logistic'; end
      if nargin < 3, seed = 0; end
      net = hessfree.Net(hessfree_mex('net_new_autoencoder', encoder, output_activation, seed));
    end

    function net = preset(name, seed)
      % The network of one of the paper's experiments.
      if nargin < 2, seed = 0; end
      net = hessfree.Net(hessfree_mex('net_new_preset', name, seed));
    end

    function net = load(path)
      % Reads a network written by save().
      net = hessfree.Net(hessfree_mex('net_load', path));
    end

    function h = handle_of(net)
      % The raw handle of a hessfree.Net (for the gateway).
      if ~isa(net, 'hessfree.Net')
        error('hessfree:HF_ERR_WRONG_TYPE', 'expected a hessfree.Net, got a %s', class(net));
      end
      h = net.id;
    end
  end

  methods (Static, Hidden)
    function release_(h)
      % Frees h, ignoring errors: a destructor must never throw.
      if h ~= 0
        try
          hessfree_mex('net_free', h);
        catch
        end
      end
    end
  end
end
